"""``reconcile [--check]``: where every unit stands, and whether the books hold."""

from __future__ import annotations

import typer
from rich.table import Table

from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.services.reconcile import INVARIANT_MEANING, Invariant, check
from returnbridge.store.readmodels import SqlLedgerAudit, summary


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)


def reconcile(
    check_invariants: bool = typer.Option(
        False,
        "--check",
        help="Exit 1, naming the invariant, when any conservation invariant fails.",
    ),
    db: str | None = DbOption,
) -> None:
    """Show where every received unit stands; with --check, verify the invariants."""
    with open_app(db) as rb, rb.engine.connect() as conn:
        figures = summary(conn)
        breaches = check(SqlLedgerAudit(conn))
    units = figures["units"]
    table = Table(title="units")
    table.add_column("where")
    table.add_column("units", justify="right")
    for key, value in units.items():
        table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    for invariant in Invariant:
        mine = [b for b in breaches if b.invariant is invariant]
        mark = "[green]ok[/]" if not mine else "[red]FAILED[/]"
        console.print(f"{mark} {invariant.value}: {INVARIANT_MEANING[invariant]}")
        for breach in mine:  # at most 50 per query, then a line with how many more
            console.print(f"    {breach.detail}", markup=False)
    if check_invariants and breaches:
        failed = sorted({b.invariant.value for b in breaches})
        console.print(f"[red]reconcile failed[/]: {', '.join(failed)}")
        raise typer.Exit(1)
