"""``rfs sweep`` and ``claims list``: refunds at first scan whose goods are late, damaged or
different."""

from __future__ import annotations

import json
from datetime import timedelta

import typer
from rich.table import Table

from returnbridge.bootstrap import App
from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.services.rfs import (
    SweepResult,
    claim_candidates,
    claim_rules,
    refunded_cases,
    sweep_not_received,
)
from returnbridge.store.rfs import rfs_transaction

rfs_app = typer.Typer(no_args_is_help=True, help="Refunds at first scan (RFS).")
claims_app = typer.Typer(no_args_is_help=True, help="SAFE-T claim candidates.")


def register(app: typer.Typer) -> None:
    app.add_typer(rfs_app, name="rfs")
    app.add_typer(claims_app, name="claims")


def sweep(rb: App) -> SweepResult:
    """Open (or close) RFS_NOT_RECEIVED as the window says; used by ``process`` too."""
    engine = rb.engine
    return sweep_not_received(
        lambda: rfs_transaction(engine),
        rb.clock,
        timedelta(days=rb.settings.rfs_window_days),
    )


@rfs_app.command("sweep")
def sweep_command(db: str | None = DbOption) -> None:
    """Flag refunded returns whose goods have not arrived within the window (RFS_NOT_RECEIVED);
    close the flags of those that have arrived since."""
    with open_app(db) as rb:
        result = sweep(rb)
        window = rb.settings.rfs_window_days
    console.print(
        f"{result.opened} RFS_NOT_RECEIVED opened, {result.closed} closed (goods arrived), "
        f"{result.waiting} refunded return(s) still within the {window}-day window"
    )


@claims_app.command("list")
def claims_list(
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table."),
    db: str | None = DbOption,
) -> None:
    """Refunded returns that came back damaged or as another product: claim them from Amazon
    before the deadline of their account's claim rule (60 days after the refund unless the
    accounts file says otherwise; 30 days from the later of delivery and refund in the US), by
    the route the account uses. Soonest deadline first."""
    with open_app(db) as rb:
        masterdata = rb.processor.masterdata
        with rb.stores() as store:
            masterdata.refresh(store)
        with rfs_transaction(rb.engine) as store:
            cases = list(refunded_cases(store))
        candidates = claim_candidates(
            cases,
            masterdata.catalog,
            masterdata.mappings,
            claim_rules(rb.accounts(), rb.warehouse_map()),
        )
        now = rb.clock()
    if as_json:
        for c in candidates:
            typer.echo(
                json.dumps(
                    {
                        "case": c.case_key,
                        "return_id": c.return_id,
                        "order_id": c.order_id,
                        "refunded_at": c.refunded_at.isoformat(),
                        "deadline": c.deadline.isoformat(),
                        "days_left": c.days_left(now),
                        "refund": f"{c.refund_minor / 100:.2f}",
                        "currency": c.currency,
                        "reason": c.reason,
                        "account": c.account,
                        "route": c.route.value,
                        "claim_by": c.route.words,
                    }
                )
            )
        return
    table = Table(title=f"{len(candidates)} claim candidate(s)")
    for column in ("deadline", "days left", "account", "order", "return", "refund", "why"):
        table.add_column(column, overflow="fold")
    for c in candidates:
        left = c.days_left(now)
        table.add_row(
            f"{c.deadline:%Y-%m-%d}",
            f"[red]{left}[/]" if left < 7 else str(left),
            c.account or "-",
            c.order_id,
            c.return_id or c.case_key,
            f"{c.refund_minor / 100:.2f} {c.currency}",
            c.reason,
        )
    console.print(table)
    for route in sorted({c.route for c in candidates}):
        console.print(f"claim {route.words}", soft_wrap=True)
