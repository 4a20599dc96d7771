"""``cycle close`` and ``cycle watch``: send the pending stock changes and credit notes to
Amazon, and confirm them, now or at every cut-off of the schedule."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import typer

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.spapi import SpApiVendor
from returnbridge.domain.schedule import CycleSchedule, ScheduleError
from returnbridge.entrypoints.alerting import record_cycle_alerts
from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.entrypoints.worker import run_cycles, stop_on_signals
from returnbridge.observability.alerts import LogAlertSink
from returnbridge.services.alerts import cycle_alerts
from returnbridge.services.cycles import INVENTORY, CycleReport, Submission

cycle_app = typer.Typer(no_args_is_help=True, help="Clearing cycles with Amazon.")


def register(app: typer.Typer) -> None:
    app.add_typer(cycle_app, name="cycle")


@cycle_app.command("close")
def close(
    poll_rounds: int = typer.Option(
        60, min=1, help="Status polls before leaving the rest Processing for the next run."
    ),
    poll_seconds: float = typer.Option(1.0, min=0.0, help="Pause between polls."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print what the cycle would send (stock positions, credit notes, totals) and send, "
        "number and store nothing; Amazon is not asked.",
    ),
    db: str | None = DbOption,
) -> None:
    """Coalesce pending stock changes per (warehouse, SKU) and credits per return into credit
    notes, send them, poll their status."""
    if dry_run:
        with open_app(db) as rb:
            _print_rehearsal(rb.rehearse_cycle())
        return
    with open_app(db) as rb:
        vendor = rb.amazon_vendor()
        try:
            report = rb.clearing_cycle(vendor).close(poll_rounds, time.sleep, poll_seconds)
        finally:
            vendor.close()
        _CycleOutput(rb, vendor).show(report)


def _print_rehearsal(submissions: list[Submission]) -> None:
    """Per Amazon warehouse, the stock positions and their units; the credit notes, their
    numbers (as they would be given now) and totals per currency."""
    positions: dict[str, list[dict[str, Any]]] = defaultdict(list)
    notes: list[dict[str, Any]] = []
    for s in submissions:
        if s.operation == INVENTORY:
            positions[s.warehouse or ""] += s.body["positions"]
        else:
            notes += s.body["notes"]
    console.print(
        f"dry run: {len(submissions)} request(s) would be sent; nothing was sent or stored"
    )
    for warehouse, sent in sorted(positions.items()):
        shown = ", ".join(f"{p['sku']} {p['quantity']}" for p in sent[:8])
        more = f", ... {len(sent) - 8} more" if len(sent) > 8 else ""
        console.print(
            f"  stock at Amazon warehouse {warehouse}: {len(sent)} position(s), "
            f"{sum(int(p['quantity']) for p in sent)} units in all ({shown}{more})",
            soft_wrap=True,
        )
    totals: dict[str, int] = defaultdict(int)
    for note in notes:
        totals[note["currency"]] += sum(
            int(line["quantity"]) * int(line["unit_amount"]) for line in note["lines"]
        )
    if notes:
        numbers = sorted(n["number"] for n in notes)
        money = ", ".join(f"{c} {t / 100:,.2f}" for c, t in sorted(totals.items()))
        console.print(
            f"  credit notes: {len(notes)} ({numbers[0]} to {numbers[-1]}), {money}",
            soft_wrap=True,
        )
    if not submissions:
        console.print("  nothing to send")


class _CycleOutput:
    """Prints each cycle and raises its alerts (to the log, and to the alerts table and its
    webhook), with what that cycle alone cost (the vendor's counts run on across the cycles of
    ``cycle watch``)."""

    def __init__(self, rb: App, vendor: SpApiVendor) -> None:
        self.rb = rb
        self.vendor = vendor
        self.throttle_share = rb.settings.amazon_throttle_alert_share
        self.seen = (0, 0, 0, 0, 0)

    def show(self, report: CycleReport) -> None:
        s = self.vendor.stats
        now = (s.calls, s.retries, s.throttled, s.status_polls, s.token_requests)
        calls, retries, throttled, polls, tokens = (
            a - b for a, b in zip(now, self.seen, strict=True)
        )
        self.seen = now
        alerts = cycle_alerts(report, calls, throttled, throttle_share=self.throttle_share)
        LogAlertSink().emit(alerts)
        record_cycle_alerts(self.rb, alerts)
        console.print(
            f"cycle {report.cycle_id or '-'}: {report.prepared} submission(s) prepared, "
            f"{report.sent} sent, {report.succeeded} confirmed, {report.failed} failed, "
            f"{report.refused} refused, {report.stuck} stuck, {report.processing} still "
            f"processing, {report.unsent} not sent (Amazon unreachable)"
        )
        console.print(
            f"Amazon: {calls} call(s) ({retries} retries, {throttled} throttled), "
            f"{polls} status poll(s), {tokens} token request(s)"
        )
        _print_follow_ups(report)


def _print_stock(report: CycleReport) -> None:
    """What the cut-off told Amazon of stock, and what it held back (with the command to look)."""
    plan = report.stock
    if plan is None:
        return
    console.print(
        f"stock: {plan.positions} position(s) sent (snapshot + restocks since), "
        f"{plan.unchanged} change(s) Amazon already holds, {plan.withheld} withheld (stock "
        "authority none)"
    )
    for code, n in sorted(plan.held.items()):
        console.print(
            f"[yellow]{n} stock position(s) held: {code}[/]: "
            f"`returnbridge exceptions list --code {code}`"
        )
    if plan.unmapped_dcs:
        console.print(
            f"[yellow]ZigZag DC(s) with no Amazon warehouse: {', '.join(plan.unmapped_dcs)}[/]: "
            "`returnbridge exceptions list --code UNMAPPED_WAREHOUSE`"
        )


def _print_follow_ups(report: CycleReport) -> None:
    _print_stock(report)
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


@cycle_app.command("watch")
def watch(
    schedule: str | None = typer.Option(
        None,
        help="Cut-offs in UTC: 'daily 02:00', '02:00,14:00', 'every 15m' "
        "(default: RETURNBRIDGE_AMAZON_CYCLE_SCHEDULE).",
    ),
    poll_seconds: float = typer.Option(1.0, min=0.0, help="Pause between status polls."),
    db: str | None = DbOption,
) -> None:
    """Close a clearing cycle at every cut-off of the schedule, until SIGTERM or Ctrl-C."""
    try:
        cut_offs = CycleSchedule.parse(schedule) if schedule else None
    except ScheduleError as exc:
        raise typer.BadParameter(str(exc), param_hint="--schedule") from exc
    stop = threading.Event()
    stop_on_signals(stop)
    with open_app(db) as rb:
        cut_offs = cut_offs or CycleSchedule.parse(rb.settings.amazon_cycle_schedule)
        console.print(
            f"clearing cycles at {cut_offs.text} (UTC); next cut-off "
            f"{cut_offs.next_after(rb.clock()):%Y-%m-%d %H:%M:%S}"
        )
        vendor = rb.amazon_vendor()
        try:
            served = run_cycles(
                rb,
                rb.clearing_cycle(vendor),
                cut_offs,
                stop,
                rb.clock,
                on_cycle=_CycleOutput(rb, vendor).show,
                poll_seconds=poll_seconds,
            )
        finally:
            vendor.close()
    console.print(f"stopped after {served} cut-off(s)")
