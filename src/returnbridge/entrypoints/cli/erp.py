"""``export erp``: the journals and stock adjustments not yet exported, as a CSV / JSON-lines
file pair per batch, and delivered to the ERP endpoint when one is configured
(docs/erp-export.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import typer

from returnbridge.bootstrap import App
from returnbridge.connectors.erp import ErpFileWriter, ErpHttpConfig, HttpErpEndpoint, RetryPolicy
from returnbridge.entrypoints.cli.common import DbOption, console, open_app
from returnbridge.services.erp_export import ErpExporter, ErpExportReport
from returnbridge.store.erp_export import erp_transaction

export_app = typer.Typer(no_args_is_help=True, help="Exports for other systems.")


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")


@contextmanager
def erp_exporter(
    rb: App,
    out: Path,
    *,
    deliver: bool = True,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[ErpExporter]:
    """The exporter for ``rb``, writing to ``out``; it delivers only if asked to and if
    ``RETURNBRIDGE_ERP_ENDPOINT_URL`` is set. ``sleep`` waits between a delivery's retries (the
    service's may raise to give up when asked to stop)."""
    settings = rb.settings
    engine = rb.engine
    client: httpx.Client | None = None
    endpoint: HttpErpEndpoint | None = None
    if deliver and settings.erp_endpoint_url:
        client = httpx.Client(timeout=settings.erp_timeout_seconds)
        config = ErpHttpConfig(
            url=settings.erp_endpoint_url,
            token=settings.erp_api_token.get_secret_value(),
            retry=retry or RetryPolicy(attempts=settings.erp_retry_attempts),
        )
        endpoint = HttpErpEndpoint(config, client, sleep=sleep)
    try:
        yield ErpExporter(lambda: erp_transaction(engine), ErpFileWriter(out), rb.clock, endpoint)
    finally:
        if client is not None:
            client.close()


def export_erp(rb: App, out: Path, *, deliver: bool = True) -> ErpExportReport:
    """Export the journals and stock adjustments not yet exported as one batch to ``out`` (and
    deliver the batches not yet delivered when an ERP endpoint is configured): the demo's hook
    after its cycles. The report counts journal ``lines`` and stock ``adjustments`` apart."""
    with erp_exporter(rb, out, deliver=deliver) as exporter:
        return exporter.run()


@export_app.command("erp")
def erp(
    out: Path = typer.Option(..., "--out", help="Folder of the batch files."),
    deliver: bool = typer.Option(
        True,
        "--deliver/--no-deliver",
        help="POST batches not yet delivered to RETURNBRIDGE_ERP_ENDPOINT_URL (if set).",
    ),
    batch: str | None = typer.Option(
        None, "--batch", help="Only write the files of this recorded batch again (identical)."
    ),
    redeliver: str | None = typer.Option(
        None,
        "--redeliver",
        help="Put this refused batch back for delivery (after fixing the cause), then export.",
    ),
    db: str | None = DbOption,
) -> None:
    """Export the pending journals and stock adjustments as one batch (CSV + JSON lines) and
    deliver the batches not yet delivered, oldest first."""
    with open_app(db) as rb, erp_exporter(rb, out, deliver=deliver) as exporter:
        if batch:
            report = exporter.rewrite(batch)
        else:
            if redeliver:
                exporter.requeue(redeliver)
            report = exporter.run()
        endpoint = exporter.endpoint is not None
    _show(report, out, endpoint, batch is None)


def _show(report: ErpExportReport, out: Path, endpoint: bool, ran: bool) -> None:
    if report.recorded:
        console.print(
            f"batch {', '.join(report.recorded)}: {report.entries} journal entries, "
            f"{report.lines} lines, {report.adjustments} stock adjustment(s)"
        )
    elif ran:
        console.print("no journals or stock adjustments waiting: no new batch")
    for name in report.files:
        console.print(f"wrote {out / name}")
    if not ran:
        return
    if not endpoint:
        console.print("ERP delivery: off (files only)")
        return
    console.print(
        f"ERP: {len(report.delivered)} batch(es) delivered, {len(report.refused)} refused, "
        f"{report.undelivered} left for the next run (ERP out of reach)"
    )
    if report.refused:
        console.print(
            f"[red]refused by the ERP[/]: {', '.join(report.refused)}; see docs/erp-export.md "
            "(fix the cause, then `returnbridge export erp --redeliver BATCH`)"
        )
        raise typer.Exit(1)


__all__ = ["erp_exporter", "export_erp", "register"]
