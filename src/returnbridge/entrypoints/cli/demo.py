"""``demo``: the main job on the embedded default, end to end over the real components.

Generates a seeded day (catalog, ZigZag export, Amazon refunds at first scan, the WMS's opening
stock snapshot), loads the master data and the warehouse map (ZigZag's DC codes are not
Amazon's warehouse ids), imports the snapshot, imports the export through the CSV connector,
ingests the refunds, drains the inbox, checks the invariants and writes ``OUT/summary.json``.
The same seed gives the same summary. With ``--serve``, the service then runs on the day's
database on loopback (the dashboard, the API), with an admin token to sign in, until Ctrl-C.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.vendor_exports import ExportKind
from returnbridge.domain.auth import Role
from returnbridge.domain.errors import ReturnBridgeError, TokenRefused
from returnbridge.entrypoints.cli.amazon_imports import import_amazon_file
from returnbridge.entrypoints.cli.common import console, open_app
from returnbridge.entrypoints.cli.demo_amazon import AmazonLeg
from returnbridge.entrypoints.cli.demo_zigzag import Transport, bring_in
from returnbridge.entrypoints.cli.erp import export_erp
from returnbridge.entrypoints.cli.pipeline import drain_inbox
from returnbridge.entrypoints.cli.report import render as render_daily
from returnbridge.entrypoints.service import LoopOptions, plan_loops, run_service
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.masterdata.warehouses_toml import DEFAULT_WAREHOUSES
from returnbridge.reports.monthend import write_month_end
from returnbridge.sandboxes.zigzag.generator import (
    DAY_END,
    generate_day,
    write_catalog,
    write_export,
    write_refunds,
)
from returnbridge.sandboxes.zigzag.stock import OPENING_AS_OF, opening_stock, write_stock_snapshot
from returnbridge.services.access import create_token, revoke_tokens
from returnbridge.services.pipeline import ProcessStats, ingest_stream
from returnbridge.services.ports import InboxRecord
from returnbridge.services.reconcile import check
from returnbridge.store.daily import daily_figures
from returnbridge.store.finance import finance_figures
from returnbridge.store.migrate import upgrade
from returnbridge.store.readmodels import BUCKETS, SqlLedgerAudit, summary
from returnbridge.store.tokens import access_transaction

DEMO_TOKEN = "demo"  # the name of the admin token ``demo --serve`` signs in with


class DemoError(ReturnBridgeError):
    code = "demo.refused"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def _refund_records(path: Path) -> list[InboxRecord]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        refund = json.loads(line)
        records.append(
            InboxRecord("amazon", refund["id"], refund["type"], line, f"order:{refund['orderId']}")
        )
    return records


def run_demo(
    rb: App,
    out: Path,
    returns: int,
    seed: int,
    *,
    amazon: bool = True,
    amazon_faults: float = 0.0,
    amazon_reject_rate: float = 0.02,
    cycles: int = 4,
    transport: Transport = Transport.WEBHOOK,
) -> dict[str, Any]:
    """The day, end to end; returns the summary written to ``out/summary.json``."""
    upgrade(rb.engine)
    with rb.stores() as store:
        if store.inbox_pending() or store.list_exceptions(None, None, 1) or store.config_versions():
            raise DemoError("the demo needs an empty database: give a new --db or --out")
    day = generate_day(returns, seed)
    catalog_file, export_file = out / "catalog.csv", out / "zigzag-export.csv"
    refunds_file, mappings_file = out / "amazon-refunds.jsonl", out / "mappings.toml"
    warehouses_file, stock_file = out / "warehouses.toml", out / "stock-snapshot.csv"
    write_catalog(day, catalog_file)
    write_export(day, export_file)
    write_refunds(day, refunds_file)
    shutil.copyfile(DEFAULT_MAPPINGS, mappings_file)
    warehouses_file.write_text(demo_warehouses(), encoding="utf-8")

    rb.load_catalog(catalog_file)
    rb.load_mappings(mappings_file)
    warehouses = rb.load_warehouses(warehouses_file)
    opening = opening_stock(day, warehouses.warehouses)
    write_stock_snapshot(opening, stock_file, OPENING_AS_OF)
    rb.import_stock(stock_file)  # before the first cycle: Amazon's view starts from it
    imported = bring_in(rb, transport, returns, seed, export_file)
    refunds = ingest_stream(rb.stores, _refund_records(refunds_file), rb.clock)
    leg = AmazonLeg(rb, seed, amazon_faults, amazon_reject_rate, tuple(opening)) if amazon else None
    try:
        stats = _process_in_cycles(rb, leg, cycles)
        amazon_figures = leg.figures() if leg else None
        if leg:
            remittance = out / "amazon-remittance.csv"
            leg.remittance(remittance, seed)
            import_amazon_file(rb, remittance, ExportKind.REMITTANCE)
    finally:
        if leg:
            leg.stop()
    erp = export_erp(rb, out / "erp", deliver=False)
    reports = _write_reports(rb, out)
    with rb.engine.connect() as conn:
        figures = summary(conn)
        breaches = check(SqlLedgerAudit(conn))
    if amazon_figures is not None:
        figures["amazon"] = amazon_figures
    figures["finance"] = finance_figures(rb.engine)
    figures["erp_export"] = {
        "batches": len(erp.written),
        "entries": erp.entries,
        "lines": erp.lines,
        "stock_adjustments": erp.adjustments,
    }
    figures.update(
        {
            "seed": seed,
            "returns_generated": returns,
            "planted": dict(sorted(day.planted.items())),
            "import": {
                "accepted": imported.accepted + refunds.accepted,
                "duplicates": imported.duplicates + refunds.duplicates,
                "unreadable": imported.unreadable + refunds.invalid,
            },
            "processing": {
                "processed": stats.processed,
                "invalid": stats.invalid,
                "failed": stats.failed,
            },
            "invariants_ok": not breaches,
            "invariant_breaches": [f"{b.invariant.value}: {b.detail}" for b in breaches],
        }
    )
    (out / "summary.json").write_text(
        json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    # The report files are named by the month they close: listed on screen, not in the summary
    # (the same seed gives the same summary, whatever the day).
    figures["reports"] = [str(path) for path in reports]
    return figures


class ReplayClock:
    """The demo's clock: it replays a past day (``DAY_START`` .. ``DAY_END`` of the generator),
    so "now" starts when the day's last event is over and runs on from there. Everything the day
    stores, signs and reports is dated in that day, as it was on the day itself."""

    def __init__(self, start: datetime = DAY_END) -> None:
        self.start = start
        self.started = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.started)


# The replayed day's returns are graded over three days after one opening snapshot (01:00 on
# DAY_START's day); a brand's nightly snapshot keeps the shipped default of 26 hours.
DEMO_SNAPSHOT_MAX_AGE_HOURS = 96


def demo_warehouses() -> str:
    """The shipped warehouses file, with the freshness limit of the replayed day."""
    text = DEFAULT_WAREHOUSES.read_text(encoding="utf-8")
    line = re.search(r"^snapshot_max_age_hours = .*$", text, flags=re.M)
    if line is None:
        raise DemoError(f"{DEFAULT_WAREHOUSES.name} sets no snapshot_max_age_hours")
    return text.replace(
        line.group(0),
        f"snapshot_max_age_hours = {DEMO_SNAPSHOT_MAX_AGE_HOURS}  # the demo replays three days "
        "of grading after one snapshot",
    )


def _write_reports(rb: App, out: Path) -> list[Path]:
    """The handover files of the day: the daily log of the day the demo ran (every section is
    keyed on the time returnbridge stored, so that is the day its events are in) and the
    month-end close of that month, closed now."""
    now = rb.clock()
    with rb.engine.connect() as conn:
        daily = render_daily(daily_figures(conn, now.date(), as_of=now))
    daily_file = out / "daily-log.md"
    daily_file.write_text(daily, encoding="utf-8")
    close = write_month_end(rb, now.date().replace(day=1), out, now)
    return [daily_file, close.xlsx, close.html]


def _process_in_cycles(rb: App, leg: AmazonLeg | None, cycles: int) -> ProcessStats:
    """Process the day in ``cycles`` slices, closing a clearing cycle after each (the cut-offs
    of the day); without Amazon, process it all at once."""
    if leg is None:
        return drain_inbox(rb)
    with rb.stores() as store:
        pending = store.inbox_pending()
    size = max(1, -(-pending // cycles))
    total = ProcessStats()
    for n in range(1, cycles + 1):
        stats = drain_inbox(rb, limit=size, label=f"processing, cut-off {n}/{cycles}")
        total.processed += stats.processed
        total.invalid += stats.invalid
        total.failed += stats.failed
        leg.close_cycle()
    leg.catch_up()
    return total


def _print_summary(figures: dict[str, Any], out: Path, seconds: float) -> None:
    units = figures["units"]
    table = Table(
        title=f"demo day, seed {figures['seed']}: {figures['returns']} returns, "
        f"{figures['lines']} lines"
    )
    table.add_column("received units go to")
    table.add_column("units", justify="right")
    for key in BUCKETS:
        table.add_row(key.replace("_", " "), str(units[key]))
    table.add_row("[bold]received[/]", f"[bold]{units['received']}[/]")
    console.print(table)
    console.print(
        f"events: {figures['events_received']} received, "
        f"{figures['events_duplicate']} duplicates ignored"
    )
    open_ = ", ".join(f"{code} {n}" for code, n in figures["exceptions"].items()) or "none"
    console.print(f"open exceptions: {open_}")
    journals = figures["journals"]
    console.print(
        f"journals: {journals['entries']} entries, "
        f"{'balanced' if journals['balanced'] else 'NOT balanced'}"
    )
    verdict = "[green]hold[/]" if figures["invariants_ok"] else "[red]FAIL[/]"
    console.print(f"invariants: {verdict}")
    if "amazon" in figures:
        a = figures["amazon"]
        console.print(
            f"amazon: {a['calls']} calls ({a['retries']} retries) for {a['min_calls']} needed, "
            f"vs {a['naive_calls']} posting each unit; {a['throttled']} throttled, "
            f"{a['rejected_items']} items rejected, {a['stock_mismatches']} stock mismatches"
        )
        st = a["stock"]
        console.print(
            f"stock: {st['positions_sent']} positions sent (snapshot + restocks since), held: "
            f"{st['held_missing']} no snapshot, {st['held_stale']} stale, {st['held_drop']} drops; "
            f"{st['unmapped_warehouse']} unmapped DCs"
        )
        console.print(
            f"credit notes: {a['credit_notes']} held by Amazon, "
            f"{a['credit_notes_resent_refused']} resends refused as duplicates, "
            f"{a['credit_mismatches']} credit mismatches"
        )
    money = figures["finance"]
    for currency, expected in sorted(money["credits_expected"].items()):
        console.print(
            f"credit ({currency}, minor units): {expected} expected = "
            f"{money['credited'].get(currency, 0)} credited + "
            f"{money['pending'].get(currency, 0)} pending + "
            f"{money['disputed'].get(currency, 0)} disputed"
        )
    erp = figures["erp_export"]
    console.print(
        f"ERP export: {erp['lines']} journal lines and {erp['stock_adjustments']} stock "
        f"adjustments in {out / 'erp'}"
    )
    console.print("reports: " + ", ".join(figures["reports"]), soft_wrap=True)
    for breach in figures["invariant_breaches"][:20]:
        console.print(f"  {breach}", markup=False)
    console.print(f"wrote {out / 'summary.json'} in {seconds:.1f}s")


def demo(
    returns: int = typer.Option(2000, min=1, max=1_000_000, help="Returns in the day."),
    seed: int = typer.Option(7, help="Same seed, same day, same summary."),
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: a fresh SQLite file in OUT)."
    ),
    out: Path = typer.Option(
        Path("demo-out"), "--out", help="Folder for the day's files and summary.json."
    ),
    amazon: bool = typer.Option(True, help="Deliver the day to the Amazon SP-API sandbox."),
    amazon_faults: float = typer.Option(
        0.0, min=0.0, max=1.0, help="Share of Amazon requests that fail (429, 5xx, drops)."
    ),
    amazon_reject_rate: float = typer.Option(
        0.02, min=0.0, max=1.0, help="Share of items the Amazon sandbox rejects."
    ),
    cycles: int = typer.Option(4, min=1, max=100, help="Clearing cycles (cut-offs) in the day."),
    transport: Transport = typer.Option(
        Transport.WEBHOOK.value,
        help="How ZigZag's day arrives: signed webhooks to `serve`, polling its feed, or the "
        "CSV export.",
    ),
    serve: bool = typer.Option(
        False,
        "--serve",
        help="Then serve the day on 127.0.0.1 (the dashboard and the API) until Ctrl-C, and "
        "print the dashboard's address and an admin token to sign in with.",
    ),
    port: int = typer.Option(8000, min=1, max=65535, help="The port of --serve."),
) -> None:
    """Run a realistic seeded day of returns through the whole pipeline."""
    out.mkdir(parents=True, exist_ok=True)
    if db is None:
        for suffix in ("", "-wal", "-shm"):
            (out / f"returnbridge.db{suffix}").unlink(missing_ok=True)
        db = f"sqlite:///{out / 'returnbridge.db'}"
    started = time.perf_counter()
    with open_app(db, schema_ready=False, clock=ReplayClock()) as rb:
        figures = run_demo(
            rb,
            out,
            returns,
            seed,
            amazon=amazon,
            amazon_faults=amazon_faults,
            amazon_reject_rate=amazon_reject_rate,
            cycles=cycles,
            transport=transport,
        )
    _print_summary(figures, out, time.perf_counter() - started)
    if serve:
        serve_day(db, port)
    if not figures["invariants_ok"]:
        raise typer.Exit(1)


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def serve_day(db: str, port: int) -> None:
    """Serve the day's database on loopback until SIGTERM or Ctrl-C: the dashboard and the API,
    the inbox worker, the refund sweep and the alerts (no clearing cycles: the Amazon sandbox
    stopped with the day). Prints the dashboard's address and a new admin token named
    ``demo`` (an active one of that name is revoked first: a token is shown only once)."""
    with open_app(db) as rb:
        with access_transaction(rb.engine) as store:
            try:
                issued = create_token(store, DEMO_TOKEN, Role.ADMIN, "demo", rb.clock())
            except TokenRefused:
                revoke_tokens(store, DEMO_TOKEN, "demo", rb.clock())
                issued = create_token(store, DEMO_TOKEN, Role.ADMIN, "demo", rb.clock())
        plan = plan_loops(rb, LoopOptions(cycles=False, erp=False), _say)

        def announce() -> None:
            _say(f"dashboard: http://127.0.0.1:{port}/")
            _say(f"token: {issued.token}")
            _say(
                f"Open the dashboard and paste the token to sign in (an admin token named "
                f"{DEMO_TOKEN!r}; it is shown only here). The API answers the same token under "
                f"/api/. Ctrl-C stops the service."
            )
            console.file.flush()

        busy = run_service(rb, "127.0.0.1", port, plan, announce)
    _say("stopped" if not busy else f"stopped; still busy: {', '.join(busy)}")
