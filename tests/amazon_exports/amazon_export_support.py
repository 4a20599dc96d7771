"""Building Vendor Central export files by hand, and importing them the way the CLI does."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.vendor_exports import ExportKind, read_vendor_export
from returnbridge.services.vendor_exports import VendorImportResult, import_vendor_export
from returnbridge.store.vendor_exports import vendor_export_transaction

GOOD = {
    ExportKind.RETURN_REQUESTS: {
        "request_id": "RR-1",
        "vendor_code": "CASTO",
        "order_id": "204-8827143-1816728",
        "asin": "B010EPF91D",
        "quantity_requested": "2",
        "quantity_approved": "1",
        "refund_amount": "30.28",
        "currency": "GBP",
        "condition": "sellable",
        "request_date": "2026-11-02",
        "rma_id": "VRET12345678",
    },
    ExportKind.REFUNDS: {
        "refund_id": "amzn-ref-1",
        "refund_type": "STANDARD",
        "order_id": "204-8827143-1816728",
        "asin": "B010EPF91D",
        "quantity": "1",
        "amount": "30.28",
        "currency": "GBP",
        "refunded_at": "2026-11-02T08:37:00Z",
    },
    ExportKind.REMITTANCE: {
        "payment_id": "70000001",
        "payment_date": "2026-11-30",
        "line_no": "1",
        "document_number": "RBCN-123",
        "document_type": "CreditNote",
        "amount": "-30.28",
        "currency": "GBP",
        "deductions": "",
        "description": "Returns credit",
    },
}


def row(kind: ExportKind, **cells: str) -> dict[str, str]:
    """A good row of ``kind`` with some cells changed."""
    return {**GOOD[kind], **cells}


def write(
    path: Path,
    rows: Sequence[dict[str, str] | list[str]],
    header: Sequence[str] | None = None,
    kind: ExportKind | None = None,
) -> Path:
    """A CSV file: the header of ``kind`` (or ``header``) and the rows (dicts or raw cells)."""
    columns = list(header or GOOD[kind or ExportKind.RETURN_REQUESTS])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for cells in rows:
            writer.writerow(
                [cells.get(c, "") for c in columns] if isinstance(cells, dict) else cells
            )
    return path


def import_file(
    rb: App, path: Path, kind: ExportKind, batch_size: int = 1_000
) -> VendorImportResult:
    """What `returnbridge import amazon` does, without the progress bar."""
    engine = rb.engine
    return import_vendor_export(
        lambda: vendor_export_transaction(engine),
        read_vendor_export(path, kind),
        rb.clock,
        batch_size=batch_size,
    )
