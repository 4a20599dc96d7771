"""``exceptions list|show|resolve``: the exception queue from the command line."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from enum import StrEnum

import typer
from rich.table import Table

from returnbridge.domain.errors import NotFound
from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.services.exceptions import Action, Resolution, resolve


class Status(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"
    ALL = "all"


exceptions_app = typer.Typer(no_args_is_help=True, help="The exception queue.")


def register(app: typer.Typer) -> None:
    app.add_typer(exceptions_app, name="exceptions")


def _age(created: datetime) -> str:
    hours = (datetime.now(UTC) - created).total_seconds() / 3600
    return f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.0f}d"


@exceptions_app.command("list")
def list_exceptions(
    status: Status = typer.Option(Status.OPEN, help="Which exceptions to list."),
    code: str | None = typer.Option(None, help="Only this code, e.g. UNKNOWN_SKU."),
    limit: int = typer.Option(100, min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
    db: str | None = DbOption,
) -> None:
    """List exceptions, oldest first."""
    with open_app(db) as rb, rb.stores() as store:
        records = store.list_exceptions(
            None if status is Status.ALL else status.value, code.upper() if code else None, limit
        )
    if as_json:
        for r in records:
            typer.echo(
                json.dumps(
                    {
                        "id": r.id,
                        "code": r.code,
                        "status": r.status,
                        "return_id": r.return_id,
                        "line_id": r.line_id,
                        "units": r.units_received,
                        "message": r.message,
                        "created_at": r.created_at.isoformat(),
                    }
                )
            )
        return
    table = Table(title=f"{len(records)} exception(s), status {status}")
    for column in ("id", "code", "status", "return", "line", "units", "age", "message"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            str(r.id),
            r.code,
            r.status,
            r.return_id or r.case_key or "-",
            r.line_id or "-",
            str(r.units_received),
            _age(r.created_at),
            r.message,
        )
    console.print(table)


@exceptions_app.command("show")
def show(exception_id: int = typer.Argument(...), db: str | None = DbOption) -> None:
    """One exception in full: message, raw input, and every action taken on it."""
    with open_app(db) as rb, rb.stores() as store:
        record = store.exception(exception_id)
    if record is None:
        raise NotFound(f"no exception {exception_id}")
    console.print(f"[bold]exception {record.id}[/] {record.code} ({record.status})")
    console.print(
        f"return: {record.return_id or record.case_key or '-'}  line: "
        f"{record.line_id or '-'}  units received: {record.units_received}"
    )
    console.print(f"raised: {record.created_at.isoformat()}")
    console.print(f"message: {record.message}")
    if record.resolved_at:
        console.print(
            f"closed: {record.resolved_at.isoformat()} by {record.resolved_by} "
            f"({record.resolution}): {record.resolution_note}"
        )
    for action in record.actions:
        console.print(
            f"action: {action['at'].isoformat()} {action['actor']} "
            f"{action['action']} {action['note']} {action['detail'] or ''}"
        )
    raw = record.raw if len(record.raw) < 4000 else record.raw[:4000] + " ... (cut)"
    console.print("raw input:")
    console.print(raw, markup=False)


@exceptions_app.command("resolve")
def resolve_exception(
    exception_id: int = typer.Argument(...),
    action: Action = typer.Option(
        ...,
        help="reprocess (after a fix, or with --sku/--reason/"
        "--disposition), write-off, or ignore (needs --note).",
    ),
    note: str = typer.Option("", help="Why: required to ignore."),
    sku: str | None = typer.Option(None, help="Re-map the line to this SKU (any known form)."),
    reason: str | None = typer.Option(None, help="Re-map the line to this ZigZag reason id."),
    disposition: str | None = typer.Option(None, help="Re-map the line's disposition code."),
    actor: str = typer.Option(getpass.getuser, help="Who is acting (recorded)."),
    db: str | None = DbOption,
) -> None:
    """Resolve an exception; the decision is recorded with who and when, then applied."""
    request = Resolution(
        action=action, actor=actor, note=note, sku=sku, reason=reason, disposition=disposition
    )
    with open_app(db) as rb:
        record = resolve(rb.stores, exception_id, request, rb.processor)
        with rb.stores() as store:
            blocking = (
                store.list_exceptions("open", None, 100, record.case_key, record.line_id)
                if record.line_id
                else []
            )
    if record.status != "open":
        console.print(
            f"exception {record.id} {record.status} by {record.resolved_by} ({record.resolution})"
        )
    if blocking:
        console.print(
            f"[yellow]the line still cannot flow[/]: {len(blocking)} open exception(s) on "
            f"return {record.return_id or record.case_key} line {record.line_id}:"
        )
        for r in blocking:
            console.print(f"  {r.id} {r.code}: {r.message}", markup=False)
        raise typer.Exit(1)
