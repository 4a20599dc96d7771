"""The files a planned history leaves, as the brand would export them for the audit.

ZigZag's CSV export (docs/zigzag-events.md), Vendor Central's return requests, refunds and
remittance (docs/amazon-exports.md), the catalog master (docs/master-data.md), the brand's GL
export (docs/audit.md) and ``planted.json``, what the audit of them must find. The same history
always gives the same files.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from returnbridge.sandboxes.amazon.exports import (
    DEDUCTIONS,
    REFUND_COLUMNS,
    REMITTANCE_COLUMNS,
    RETURN_REQUEST_COLUMNS,
    VENDOR_CODE,
)
from returnbridge.sandboxes.history.plan import WEEKS, Credit, History, Return, payment_date
from returnbridge.sandboxes.zigzag.generator import (
    CSV_COLUMNS,
    WAREHOUSES,
    DemoDay,
    export_rows,
    write_catalog,
)

LEDGER_COLUMNS = (
    "journal_id",
    "posted_on",
    "account",
    "debit",
    "credit",
    "currency",
    "reference",
    "description",
)
# The shipped mappings' accounts (data/mappings.toml): what the brand journalled by hand.
ACCOUNTS = {
    "RESTOCK": ("1310-INVENTORY-SELLABLE", "1390-RETURNS-IN-TRANSIT"),
    "REFURBISH": ("1320-INVENTORY-REFURBISHMENT", "1390-RETURNS-IN-TRANSIT"),
    "LIQUIDATE": ("1330-INVENTORY-LIQUIDATION", "1390-RETURNS-IN-TRANSIT"),
    "DESTROY": ("5410-RETURNS-WRITE-DOWN", "1390-RETURNS-IN-TRANSIT"),
    "RTV": ("1250-SUPPLIER-RECEIVABLE", "1390-RETURNS-IN-TRANSIT"),
}
FEE_ACCOUNTS = ("6120-RETURN-HANDLING-FEES", "2110-ZIGZAG-PAYABLE")


@dataclass(frozen=True)
class HistoryFiles:
    zigzag: Path
    return_requests: Path
    refunds: Path
    remittance: Path
    catalog: Path
    ledger: Path
    planted: Path


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _write(path: Path, columns: tuple[str, ...], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


class _Writer:
    def __init__(self, history: History) -> None:
        self.history = history
        self.seed = history.seed
        self.rng = random.Random(f"history-files/{history.seed}")
        self.events: list[dict[str, Any]] = []

    def event(self, kind: str, at: datetime, head: dict[str, Any], **body: Any) -> None:
        number = len(self.events) + 1
        event_id = f"zz-hist-{self.seed}-{number:07d}"
        self.events.append({"id": event_id, "type": kind, "occurredAt": _iso(at), **head, **body})

    def life(self, number: int, ret: Return) -> None:
        """ZigZag's events for one return, as far as it got."""
        head: dict[str, Any] = {
            "retailerCode": "CASTORE",
            "orderNumber": f"CAS{self.seed:02d}{number:07d}",
            "returnId": ret.return_id,
            "dcWarehouse": self.rng.choice(WAREHOUSES),
            "channelOrderRef": ret.order,
        }
        if ret.rma:
            head["rmaId"] = ret.rma
        lines = ret.lines
        self.event(
            "return.registered",
            ret.registered_at,
            head,
            lines=[
                {
                    "lineId": x.line_id,
                    "sku": x.scanned,
                    "quantity": x.quantity,
                    "returnReasonId": x.reason,
                }
                for x in lines
            ],
        )
        if ret.stage == "cancelled":
            self.event("return.cancelled", ret.registered_at + timedelta(minutes=30), head)
            return
        if ret.transit_at:
            self.event("return.in_transit", ret.transit_at, head)
        if ret.received_at:
            received = [
                {"lineId": x.line_id, "sku": x.scanned, "quantity": x.quantity} for x in lines
            ]
            self.event("return.received", ret.received_at, head, lines=received)
        if ret.graded_at:
            graded = [
                {"lineId": x.line_id, "grade": x.grade, "quantity": x.quantity} for x in lines
            ]
            self.event("return.graded", ret.graded_at, head, lines=graded)
        disposed = [
            {"lineId": x.line_id, "grade": x.grade, "disposition": x.disposition}
            for x in lines
            if x.disposition
        ]
        if ret.disposed_at and disposed:
            self.event("return.disposition_set", ret.disposed_at, head, lines=disposed)
        if ret.disposed_at and ret.charge:
            charge = {
                "chargeId": f"CHG-{ret.return_id}",
                "type": "DAMAGED_ITEM_FEE",
                "amount": _money(ret.charge),
                "currency": "GBP",
                "sku": "FEE-DAMAGED-ITEM",
            }
            self.event(
                "charge.created", ret.disposed_at + timedelta(minutes=1), head, charge=charge
            )

    def zigzag(self, path: Path) -> None:
        goods = [r for r in self.history.returns if r.goods]
        for number, ret in enumerate(goods, start=1):
            self.life(number, ret)
        self.events.sort(key=lambda e: (e["occurredAt"], e["id"]))
        middle = len(self.events) // 2
        # One row a real export carries now and then: cut short, so unreadable.
        bad = [f"zz-hist-bad-{self.seed}", "return.received", self.events[middle]["occurredAt"]]
        bad += ["CASTORE", "CAS-BAD", f"ZZR-BAD-{self.seed}", "UK-DC1"]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for index, event in enumerate(self.events):
                writer.writerows(export_rows(event))
                if index == middle:
                    writer.writerow(bad)

    def return_requests(self) -> list[list[str]]:
        rows = []
        for ret in self.history.returns:
            if ret.request is None:
                continue
            first = ret.lines[0]
            rows.append(
                [
                    ret.request["request_id"],
                    VENDOR_CODE,
                    ret.order,
                    first.product.asin,
                    str(first.quantity),
                    str(first.quantity),
                    _money(2 * first.value),
                    "GBP",
                    ret.request["condition"],
                    ret.request["requested_at"].date().isoformat(),
                    ret.rma or ret.vret or "",
                ]
            )
        return sorted(rows, key=lambda r: r[0])

    def refunds(self) -> list[list[str]]:
        rows: list[tuple[datetime, list[str]]] = []
        for ret in self.history.returns:
            first = ret.lines[0]
            refund = [ret.order, first.product.asin, str(first.quantity), _money(2 * first.value)]
            if ret.rfs_at:
                refund_id = f"amzn-rfs-{self.seed}-{len(rows) + 1:06d}"
                rows.append((ret.rfs_at, [refund_id, "RFS", *refund, "GBP", _iso(ret.rfs_at)]))
            elif ret.disposed_at and ret.received_at and self.rng.random() < 0.25:
                at = ret.received_at + timedelta(hours=self.rng.randint(2, 48))
                refund_id = f"amzn-ref-{self.seed}-{len(rows) + 1:06d}"
                rows.append((at, [refund_id, "STANDARD", *refund, "GBP", _iso(at)]))
        return [row for _, row in sorted(rows, key=lambda r: (r[0], r[1][0]))]

    def remittance(self) -> list[list[str]]:
        by_week: dict[int, list[tuple[Credit | None, str]]] = {}
        credits = [c for r in self.history.returns for c in r.credits]
        for paid_back in credits + [c for _, c in self.history.orphan_credits]:
            by_week.setdefault(paid_back.week, []).append((paid_back, ""))
        rows: list[list[str]] = []
        invoices = 0
        for week in range(1, WEEKS + 1):
            lines = by_week.get(week, [])
            for _ in range(self.rng.randint(2, 4)):
                invoices += 1
                lines.append((None, f"INV-{self.seed}-{invoices:06d}"))
            self.rng.shuffle(lines)
            paid = payment_date(week).date().isoformat()
            payment = f"{self.seed:03d}{week:05d}"
            for line_no, (credit, invoice) in enumerate(lines, start=1):
                if credit is not None:
                    cells = [credit.document, "CreditNote", _money(-credit.amount), "GBP", ""]
                    rows.append([payment, paid, str(line_no), *cells, credit.description])
                    continue
                amount = self.rng.randint(5_000, 500_000)
                deductions = ""
                if self.rng.random() < 0.3:
                    kind = self.rng.choice(DEDUCTIONS)
                    deductions = f"{kind}={_money(self.rng.randint(100, amount // 10))}"
                cells = [invoice, "Invoice", _money(amount), "GBP", deductions]
                rows.append([payment, paid, str(line_no), *cells, "Purchase order invoice"])
        return rows

    def ledger(self) -> list[list[str]]:
        """The brand's journals by hand: one per disposed line (but the planted ones), and the
        fees. Each names its return by its id, its RMA or its order."""
        rows: list[list[str]] = []
        shared = {r.order for r in self.history.returns if r.role == "shared_order"}

        def journal(
            at: datetime, accounts: tuple[str, str], amount: int, ref: str, text: str
        ) -> None:
            journal_id = f"GL-{self.seed}-{len(rows) // 2 + 1:06d}"
            day = at.date().isoformat()
            debit, credit = accounts
            rows.append([journal_id, day, debit, _money(amount), "0.00", "GBP", ref, text])
            rows.append([journal_id, day, credit, "0.00", _money(amount), "GBP", ref, text])

        disposed = [r for r in self.history.returns if r.disposed_at]
        for ret in sorted(disposed, key=lambda r: (r.disposed_at, r.return_id)):
            assert ret.disposed_at is not None
            for line in ret.lines:
                accounts = ACCOUNTS.get(line.disposition or "")
                if accounts is None or ret.role == "write_down_missing":
                    continue
                amount = line.value // 2 if ret.role == "write_down_other" else line.value
                text = f"Returns {line.disposition} {line.quantity} x {line.product.sku}"
                roll = self.rng.random()
                if roll < 0.15 and ret.rma:
                    journal(ret.disposed_at, accounts, amount, "", f"{text}, RMA {ret.rma}")
                elif roll < 0.3 and ret.order not in shared:
                    journal(ret.disposed_at, accounts, amount, ret.order, text)
                else:
                    journal(ret.disposed_at, accounts, amount, ret.return_id, text)
            if ret.charge:
                text = f"Damaged-item fee, return {ret.return_id}"
                journal(ret.disposed_at, FEE_ACCOUNTS, ret.charge, ret.return_id, text)
        return rows


def write_history(history: History, folder: Path) -> HistoryFiles:
    """Write the history's six files and ``planted.json`` into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    files = HistoryFiles(
        zigzag=folder / "zigzag-export.csv",
        return_requests=folder / "amazon-return-requests.csv",
        refunds=folder / "amazon-refunds.csv",
        remittance=folder / "amazon-remittance.csv",
        catalog=folder / "catalog.csv",
        ledger=folder / "gl-export.csv",
        planted=folder / "planted.json",
    )
    writer = _Writer(history)
    writer.zigzag(files.zigzag)
    _write(files.return_requests, RETURN_REQUEST_COLUMNS, writer.return_requests())
    _write(files.refunds, REFUND_COLUMNS, writer.refunds())
    _write(files.remittance, REMITTANCE_COLUMNS, writer.remittance())
    write_catalog(DemoDay(history.seed, history.products), files.catalog)
    _write(files.ledger, LEDGER_COLUMNS, writer.ledger())
    files.planted.write_text(
        json.dumps(history.figures(), indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return files
