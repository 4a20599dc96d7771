"""``demo``: the main job on the embedded default, end to end over the real components.

Generates a seeded day (catalog, ZigZag export, Amazon refunds at first scan), loads the master
data, imports the export through the CSV connector, ingests the refunds, drains the inbox, checks
the invariants and writes ``OUT/summary.json``. The same seed gives the same summary.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from returnbridge.bootstrap import App
from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.entrypoints.cli.common import console, open_app
from returnbridge.entrypoints.cli.pipeline import drain_inbox, import_zigzag_file
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.zigzag.generator import (
    generate_day,
    write_catalog,
    write_export,
    write_refunds,
)
from returnbridge.services.pipeline import ingest_stream
from returnbridge.services.ports import InboxRecord
from returnbridge.services.reconcile import check
from returnbridge.store.migrate import upgrade
from returnbridge.store.readmodels import BUCKETS, SqlLedgerAudit, summary


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


def run_demo(rb: App, out: Path, returns: int, seed: int) -> dict[str, Any]:
    """The day, end to end; returns the summary written to ``out/summary.json``."""
    upgrade(rb.engine)
    with rb.stores() as store:
        if store.inbox_pending() or store.list_exceptions(None, None, 1) or store.config_versions():
            raise DemoError("the demo needs an empty database: give a new --db or --out")
    day = generate_day(returns, seed)
    catalog_file, export_file = out / "catalog.csv", out / "zigzag-export.csv"
    refunds_file, mappings_file = out / "amazon-refunds.jsonl", out / "mappings.toml"
    write_catalog(day, catalog_file)
    write_export(day, export_file)
    write_refunds(day, refunds_file)
    shutil.copyfile(DEFAULT_MAPPINGS, mappings_file)

    rb.load_catalog(catalog_file)
    rb.load_mappings(mappings_file)
    imported = import_zigzag_file(rb, export_file)
    refunds = ingest_stream(rb.stores, _refund_records(refunds_file), rb.clock)
    stats = drain_inbox(rb)
    with rb.engine.connect() as conn:
        figures = summary(conn)
        breaches = check(SqlLedgerAudit(conn))
    figures.update(
        {
            "seed": seed,
            "returns_generated": returns,
            "planted": dict(sorted(day.planted.items())),
            "import": {
                "accepted": imported.accepted + refunds.accepted,
                "duplicates": imported.duplicates + refunds.duplicates,
                "unreadable": imported.invalid + refunds.invalid,
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
    return figures


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
) -> None:
    """Run a realistic seeded day of returns through the whole pipeline."""
    out.mkdir(parents=True, exist_ok=True)
    if db is None:
        for suffix in ("", "-wal", "-shm"):
            (out / f"returnbridge.db{suffix}").unlink(missing_ok=True)
        db = f"sqlite:///{out / 'returnbridge.db'}"
    started = time.perf_counter()
    with open_app(db, schema_ready=False) as rb:
        figures = run_demo(rb, out, returns, seed)
    _print_summary(figures, out, time.perf_counter() - started)
    if not figures["invariants_ok"]:
        raise typer.Exit(1)
