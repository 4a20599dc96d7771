"""``audit-log list|verify``: who did what, and proof that nobody changed the record since."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from returnbridge.domain.audit_log import AuditRecord, canonical_json
from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.services.access import verify_audit_log
from returnbridge.store.audit_log import recent_audit_rows
from returnbridge.store.tokens import access_transaction

audit_log_app = typer.Typer(
    no_args_is_help=True, help="The append-only, hash-chained audit log of people's actions."
)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_log_app, name="audit-log")


def _change(record: AuditRecord) -> str:
    """What changed, in one line: the fields whose value differs, before -> after."""
    before, after = dict(record.before or {}), dict(record.after or {})
    parts = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            old, new = (canonical_json(v) for v in (before.get(key), after.get(key)))
            parts.append(f"{key}: {old} -> {new}" if key in before else f"{key}: {new}")
    return "; ".join(parts)


@audit_log_app.command("list")
def list_rows(
    limit: int = typer.Option(50, min=1, max=100_000, help="How many rows, newest first."),
    target: str | None = typer.Option(None, help="Only one target, e.g. exception:6 or token:2."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines, with before and after."),
    db: str | None = DbOption,
) -> None:
    """The newest rows of the audit log."""
    with open_app(db) as rb, access_transaction(rb.engine) as store:
        rows = recent_audit_rows(store.conn, limit, target)
    if as_json:
        for r in rows:
            typer.echo(
                json.dumps(
                    {
                        "id": r.id,
                        "at": r.at.isoformat(),
                        "actor": r.actor,
                        "actor_kind": r.actor_kind,
                        "action": r.action,
                        "target": r.target,
                        "before": r.before,
                        "after": r.after,
                        "hash": r.hash,
                    }
                )
            )
        return
    table = Table(title=f"audit log: newest {len(rows)} row(s)")
    for column in ("id", "at", "actor", "via", "action", "target", "change"):
        table.add_column(column, overflow="fold")
    for r in rows:
        cells = (str(r.id), f"{r.at:%Y-%m-%d %H:%M:%S}", r.actor, r.actor_kind, r.action)
        table.add_row(*(Text(c) for c in (*cells, r.target, _change(r))))  # no markup
    console.print(table)


@audit_log_app.command("verify")
def verify(
    anchor: str | None = typer.Option(
        None, help="A head hash printed by an earlier verify: it must still be in the chain."
    ),
    db: str | None = DbOption,
) -> None:
    """Check the whole chain: exit 0 if intact, 1 naming the first row that breaks it."""
    with open_app(db) as rb, access_transaction(rb.engine) as store:
        check = verify_audit_log(store, anchor)
    if check.broken is not None:
        typer.echo(f"audit log BROKEN at row {check.broken.id}: {check.broken.reason}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{check.rows} rows, chain intact; head {check.head}")
