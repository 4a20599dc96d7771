"""Vendor Central report exports for a generated day: return requests, refunds, remittance.

Amazon offers these facts to vendors only as report downloads (no API), so the sandbox states
them as the CSV files returnbridge imports (docs/amazon-exports.md). The files follow the day
from ``sandboxes.zigzag.generator``: return requests for a share of its returns, every refund at
first scan of the day (exactly ``day.refunds``) among standard refunds, and payments that settle
a share of returnbridge's credit notes (``RBCN-<n>``) next to invoices, with deductions.

Written independently of ``returnbridge.connectors`` on purpose: a misreading of the format
cannot hide on both sides. The same day always gives the same files.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from returnbridge.sandboxes.zigzag.generator import DemoDay, Product

VENDOR_CODE = "CASTO"
RETURN_REQUEST_COLUMNS = (
    "request_id",
    "vendor_code",
    "order_id",
    "asin",
    "quantity_requested",
    "quantity_approved",
    "refund_amount",
    "currency",
    "condition",
    "request_date",
    "rma_id",
)
REFUND_COLUMNS = (
    "refund_id",
    "refund_type",
    "order_id",
    "asin",
    "quantity",
    "amount",
    "currency",
    "refunded_at",
)
REMITTANCE_COLUMNS = (
    "payment_id",
    "payment_date",
    "line_no",
    "document_number",
    "document_type",
    "amount",
    "currency",
    "deductions",
    "description",
)
DEDUCTIONS = ("COOP", "DAMAGE_ALLOWANCE", "PRICE_PROTECTION", "FREIGHT_ALLOWANCE")
LINES_PER_PAYMENT = 25


@dataclass(frozen=True)
class VendorExportFiles:
    return_requests: Path
    refunds: Path
    remittance: Path


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _forms(product: Product) -> list[str]:
    """Every way the day's generator may have scanned a product."""
    sku = product.sku
    forms = [sku, sku.lower(), sku.replace("-", ""), sku.replace("-", "_"), product.ean]
    forms += ["0" + product.ean, product.asin, sku.lower().replace("-", " "), *product.aliases]
    return forms


class _Exports:
    def __init__(self, day: DemoDay) -> None:
        self.day = day
        self.rng = random.Random(day.seed * 7919 + 3)
        self.by_form = {form: p for p in day.products for form in _forms(p)}
        self.returns: dict[str, dict[str, Any]] = {}  # returnId -> first event of each type
        self.stages: dict[str, dict[str, dict[str, Any]]] = {}
        for event in day.events:
            stages = self.stages.setdefault(event["returnId"], {})
            stages.setdefault(event["type"], event)

    def lines(self, registered: dict[str, Any]) -> list[tuple[Product, int]]:
        found = []
        for line in registered.get("lines", ()):
            product = self.by_form.get(line["sku"])
            if product is not None and not product.non_inventory:
                found.append((product, int(line["quantity"])))
        return found

    def return_requests(self) -> list[list[str]]:
        rows: list[list[str]] = []
        for return_id in sorted(self.stages):
            registered = self.stages[return_id].get("return.registered")
            if registered is None or self.rng.random() > 0.35:
                continue
            for product, quantity in self.lines(registered)[:1]:
                roll = self.rng.random()
                approved = quantity if roll < 0.8 else (0 if roll < 0.9 else quantity - 1)
                asked = datetime.fromisoformat(registered["occurredAt"].replace("Z", "+00:00"))
                asked -= timedelta(days=self.rng.randint(0, 3))
                rma = registered.get("rmaId") or (
                    f"VRET{self.rng.randint(10**7, 10**8 - 1)}" if self.rng.random() < 0.4 else ""
                )
                rows.append(
                    [
                        f"AMZ-RR-{self.day.seed}-{len(rows) + 1:06d}",
                        VENDOR_CODE,
                        registered["channelOrderRef"],
                        product.asin,
                        str(quantity),
                        str(approved),
                        _money(product.unit_cost * 2 * quantity),
                        "GBP",
                        "damaged" if self.rng.random() < 0.2 else "sellable",
                        asked.date().isoformat(),
                        rma,
                    ]
                )
        return rows

    def refunds(self) -> list[list[str]]:
        rfs = [
            [
                r["id"],
                "RFS",
                r["orderId"],
                r["asin"],
                str(r["quantity"]),
                r["amount"],
                r["currency"],
                r["refundedAt"],
            ]
            for r in self.day.refunds
        ]
        standard: list[list[str]] = []
        for return_id in sorted(self.stages):
            stages = self.stages[return_id]
            received, registered = stages.get("return.received"), stages.get("return.registered")
            if received is None or registered is None or self.rng.random() > 0.25:
                continue
            for product, quantity in self.lines(registered)[:1]:
                at = datetime.fromisoformat(received["occurredAt"].replace("Z", "+00:00"))
                standard.append(
                    [
                        f"amzn-ref-{self.day.seed}-{len(standard) + 1:06d}",
                        "STANDARD",
                        registered["channelOrderRef"],
                        product.asin,
                        str(quantity),
                        _money(product.unit_cost * 2 * quantity),
                        "GBP",
                        _iso(at + timedelta(hours=self.rng.randint(2, 48))),
                    ]
                )
        # Standard refunds spread among the refunds at first scan, which keep their order.
        rows = list(rfs)
        for row in standard:
            rows.insert(self.rng.randint(0, len(rows)), row)
        return rows

    def remittance(self) -> list[list[str]]:
        documents: list[tuple[str, str, int, str]] = []
        for number, return_id in enumerate(sorted(self.stages), start=1):
            disposed = self.stages[return_id].get("return.disposition_set")
            registered = self.stages[return_id].get("return.registered")
            if disposed is None or registered is None or self.rng.random() > 0.6:
                continue
            owed = sum(p.unit_cost * q for p, q in self.lines(registered))
            if owed:
                note = f"RBCN-{number * 3 + 1}"
                documents.append((note, "CreditNote", -owed, f"Returns credit {return_id}"))
            if self.rng.random() < 0.5:
                invoice = f"INV-{self.day.seed}-{number:06d}"
                amount = self.rng.randint(5_000, 500_000)
                documents.append((invoice, "Invoice", amount, "Purchase order invoice"))
        rows: list[list[str]] = []
        paid = datetime.fromisoformat("2026-11-30T00:00:00+00:00")
        for index, (document, kind, amount, text) in enumerate(documents):
            payment, line_no = divmod(index, LINES_PER_PAYMENT)
            deductions = ""
            if kind == "Invoice" and self.rng.random() < 0.3:
                chosen = self.rng.sample(DEDUCTIONS, self.rng.randint(1, 2))
                deductions = "|".join(
                    f"{d}={_money(self.rng.randint(100, max(101, amount // 10)))}" for d in chosen
                )
            rows.append(
                [
                    f"{self.day.seed}{payment + 1:07d}",
                    (paid + timedelta(days=7 * payment)).date().isoformat(),
                    str(line_no + 1),
                    document,
                    kind,
                    _money(amount),
                    "GBP",
                    deductions,
                    text,
                ]
            )
        return rows


def _write(path: Path, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def write_vendor_exports(day: DemoDay, folder: Path) -> VendorExportFiles:
    """Write the day's three Vendor Central exports into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    exports = _Exports(day)
    files = VendorExportFiles(
        folder / "amazon-return-requests.csv",
        folder / "amazon-refunds.csv",
        folder / "amazon-remittance.csv",
    )
    _write(files.return_requests, RETURN_REQUEST_COLUMNS, exports.return_requests())
    _write(files.refunds, REFUND_COLUMNS, exports.refunds())
    _write(files.remittance, REMITTANCE_COLUMNS, exports.remittance())
    return files


def write_credit_note_remittance(
    credit_notes: dict[str, dict[str, Any]],
    path: Path,
    seed: int,
    share: float = 0.8,
    deduction_rate: float = 0.05,
) -> int:
    """Amazon pays what it accepted: a remittance export taking back ``share`` of the credit
    notes it holds (``AmazonSandbox.credit_notes``), a few with a damage allowance deducted.
    Returns how many credit notes it settles. The same notes and seed give the same file."""
    rng = random.Random(f"{seed}/remittance")
    paid = datetime.fromisoformat("2026-12-07T00:00:00+00:00")
    rows: list[list[str]] = []
    for number in sorted(credit_notes):
        if rng.random() >= share:
            continue
        note = credit_notes[number]
        total = note["invoiceTotal"]
        whole, _, cents = total["amount"].partition(".")
        minor = int(whole) * 100 + int((cents + "00")[:2])
        deductions = ""
        if rng.random() < deduction_rate:
            deductions = f"DAMAGE_ALLOWANCE={_money(max(1, minor // 10))}"
        payment, line_no = divmod(len(rows), LINES_PER_PAYMENT)
        rows.append(
            [
                f"{seed}{payment + 1:07d}",
                (paid + timedelta(days=7 * payment)).date().isoformat(),
                str(line_no + 1),
                number,
                "CreditNote",
                _money(-minor),
                total["currencyCode"],
                deductions,
                "Returns credit note",
            ]
        )
    _write(path, REMITTANCE_COLUMNS, rows)
    return len(rows)


__all__ = ["VendorExportFiles", "write_credit_note_remittance", "write_vendor_exports"]
