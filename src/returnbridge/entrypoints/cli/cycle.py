"""``cycle close``: send the pending stock changes to Amazon, and confirm them."""

from __future__ import annotations

import time

import typer

from returnbridge.entrypoints.cli.common import DbOption, console, open_app

cycle_app = typer.Typer(no_args_is_help=True, help="Clearing cycles with Amazon.")


def register(app: typer.Typer) -> None:
    app.add_typer(cycle_app, name="cycle")


@cycle_app.command("close")
def close(
    poll_rounds: int = typer.Option(
        60, min=1, help="Status polls before leaving the rest Processing for the next run."
    ),
    poll_seconds: float = typer.Option(1.0, min=0.0, help="Pause between polls."),
    db: str | None = DbOption,
) -> None:
    """Coalesce pending stock changes per (warehouse, SKU) and credits per return into credit
    notes, send them, poll their status."""
    with open_app(db) as rb:
        vendor = rb.amazon_vendor()
        try:
            report = rb.clearing_cycle(vendor).close(poll_rounds, time.sleep, poll_seconds)
        finally:
            vendor.close()
    console.print(
        f"cycle {report.cycle_id or '-'}: {report.prepared} submission(s) prepared, "
        f"{report.sent} sent, {report.succeeded} confirmed, {report.failed} failed, "
        f"{report.refused} refused, {report.stuck} stuck, {report.processing} still processing, "
        f"{report.unsent} not sent (Amazon unreachable)"
    )
    stats = vendor.stats
    console.print(
        f"Amazon: {stats.calls} call(s) ({stats.retries} retries, {stats.throttled} throttled), "
        f"{stats.status_polls} status poll(s), {stats.token_requests} token request(s)"
    )
    if report.already_held:
        console.print(
            f"{report.already_held} credit note(s) sent again were already held by Amazon "
            "(an earlier answer was lost): settled as credited"
        )
    if report.overstated:
        console.print(
            f"[yellow]{report.overstated} return line(s) hold more credit at Amazon than they "
            "owe[/]: `returnbridge exceptions list --code CREDIT_OVERSTATED`"
        )
    if report.rejected_lines:
        console.print(
            f"[yellow]{report.rejected_lines} return line(s) rejected by Amazon[/]: "
            "`returnbridge exceptions list --code AMAZON_REJECTED`"
        )
