"""``import zigzag`` (CSV exports) and ``process`` (drain the inbox)."""

from __future__ import annotations

import threading
from pathlib import Path

import typer

from returnbridge.bootstrap import App
from returnbridge.connectors.zigzag.csv_export import read_export
from returnbridge.entrypoints.cli.common import DbOption, console, open_app, progress_bar
from returnbridge.entrypoints.cli.rfs import sweep
from returnbridge.entrypoints.worker import run_worker, stop_on_signals
from returnbridge.services.pipeline import ProcessStats, StreamResult, ingest_stream

import_app = typer.Typer(no_args_is_help=True, help="Import partner exports into the inbox.")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.command("process")(process)


def import_zigzag_file(rb: App, file: Path) -> StreamResult:
    """Stream a ZigZag CSV export into the inbox, with a progress bar over the file's bytes."""
    size = file.stat().st_size
    with progress_bar(counts=False) as bar:
        task = bar.add_task(f"importing {file.name}", total=size)
        result = ingest_stream(
            rb.stores,
            read_export(file, on_bytes=lambda n: bar.update(task, completed=n)),
            rb.clock,
            batch_size=rb.settings.import_batch_size,
        )
        bar.update(task, completed=size)
    return result


@import_app.command("zigzag")
def import_zigzag(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A ZigZag CSV export."),
    db: str | None = DbOption,
) -> None:
    """Store every event of FILE in the inbox (durable, deduplicated); unreadable rows become
    INVALID_EVENT exceptions and the rest still imports. Run `process` to apply them."""
    with open_app(db) as rb:
        result = import_zigzag_file(rb, file)
    console.print(
        f"{result.accepted} events accepted, {result.duplicates} duplicates ignored, "
        f"{result.invalid} unreadable (kept as INVALID_EVENT exceptions)"
    )
    for problem in result.problems:
        console.print(f"  [yellow]unreadable[/] {problem}")
    if result.invalid > len(result.problems):
        console.print(
            f"  ... and {result.invalid - len(result.problems)} more: "
            "`returnbridge exceptions list --code INVALID_EVENT`"
        )


def drain_inbox(rb: App, limit: int | None = None, label: str = "processing inbox") -> ProcessStats:
    """Process everything pending (or about ``limit`` events), with a progress bar."""
    with rb.stores() as store:
        pending = store.inbox_pending()
    with progress_bar() as bar:
        task = bar.add_task(label, total=min(pending, limit) if limit else pending)
        stats = rb.processor.drain(progress=lambda n: bar.advance(task, n), limit=limit)
        # Batches may end past the limit: show what was done, not what was aimed at.
        bar.update(task, total=stats.total, completed=stats.total)
    return stats


def process(
    watch: bool = typer.Option(
        False,
        "--watch",
        help="Keep running: process new events as they arrive (the worker "
        "loop); stop with Ctrl-C or SIGTERM, which finish the batch in flight first.",
    ),
    interval: float = typer.Option(2.0, min=0.05, help="Seconds between polls with --watch."),
    db: str | None = DbOption,
) -> None:
    """Drain the inbox: apply every pending event to its return case."""
    with open_app(db) as rb:
        if watch:
            stop = threading.Event()
            stop_on_signals(stop)
            console.print(f"worker running (poll every {interval:g}s); Ctrl-C to stop")
            stats = run_worker(
                rb,
                interval,
                stop,
                on_batch=lambda b: console.print(
                    f"{b.processed} processed, {b.invalid} invalid, {b.failed} failed"
                ),
            )
        else:
            stats = drain_inbox(rb)
        late = sweep(rb)
    console.print(
        f"{stats.processed} events processed, {stats.invalid} invalid, {stats.failed} failed"
    )
    if late.opened:
        console.print(
            f"[yellow]{late.opened} refund(s) at first scan not received in time[/]: "
            "`returnbridge exceptions list --code RFS_NOT_RECEIVED`"
        )
