"""``import amazon``: Vendor Central report exports (return requests, refunds, remittance)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.vendor_exports import ExportKind, read_vendor_export
from returnbridge.entrypoints.cli.common import DbOption, console, open_app, progress_bar
from returnbridge.entrypoints.cli.pipeline import import_app
from returnbridge.services.vendor_exports import VendorImportResult, import_vendor_export
from returnbridge.store.vendor_exports import vendor_export_transaction


def register(app: typer.Typer) -> None:
    """Adds ``amazon`` to the ``import`` group (``pipeline.register`` adds the group itself)."""
    import_app.command("amazon")(import_amazon)


def import_amazon_file(rb: App, file: Path, kind: ExportKind) -> VendorImportResult:
    """Stream a Vendor Central CSV export into the store, with a progress bar over its bytes."""
    size = file.stat().st_size
    engine = rb.engine
    with progress_bar(counts=False) as bar:
        task = bar.add_task(f"importing {file.name}", total=size)
        result = import_vendor_export(
            lambda: vendor_export_transaction(engine),
            read_vendor_export(file, kind, on_bytes=lambda n: bar.update(task, completed=n)),
            rb.clock,
            batch_size=rb.settings.import_batch_size,
        )
        bar.update(task, completed=size)
    return result


def import_amazon(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="A Vendor Central CSV export."
    ),
    kind: ExportKind = typer.Option(..., "--kind", help="What the export holds."),
    db: str | None = DbOption,
) -> None:
    """Store every row of FILE once: return requests, standard refunds and remittance lines as
    facts for finance; refunds at first scan as inbox events (run `process` to apply them).
    Unreadable rows become INVALID_EVENT exceptions and the rest still imports."""
    with open_app(db) as rb:
        result = import_amazon_file(rb, file, kind)
    events = f" ({result.events} refunds at first scan to process)" if result.events else ""
    console.print(
        f"{result.accepted} rows accepted{events}, {result.duplicates} duplicates ignored, "
        f"{result.unreadable} unreadable, {result.conflicts} conflicting "
        "(kept as INVALID_EVENT exceptions)"
    )
    for problem in result.problems:
        console.print(f"  [yellow]refused[/] {escape(problem)}")
    hidden = result.unreadable + result.conflicts - len(result.problems)
    if hidden > 0:
        console.print(
            f"  ... and {hidden} more: `returnbridge exceptions list --code INVALID_EVENT`"
        )
