"""A seeded, realistic day of ZigZag returns (and the Amazon refunds at first scan beside it).

The same seed always gives the same day. The day carries what a real one does: SKUs scanned in
every format (vendor SKU in other case or separators, EAN with or without leading zeros, ASIN,
aliases), unknown and inactive SKUs, every grade and disposition, unmapped reason and
disposition codes, over-receipts, damaged-item charges, cancellations, refunds at first scan
(some never followed by goods), duplicate deliveries and out-of-order delivery.

Written independently of ``returnbridge.connectors`` on purpose: the sandbox states ZigZag's
side of the contract, so a bug cannot hide on both sides.
"""

from __future__ import annotations

import csv
import json
import random
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DAY_START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
# Every event of a day happens before this: registered within 16 h of DAY_START, received 1-6 h
# later, graded 4-30 h after, disposed of 1-12 h after, a charge up to 4 h after that.
DAY_END = DAY_START + timedelta(hours=69)
WAREHOUSES = ("UK-DC1", "UK-DC2", "DE-DC1")
COLOURS = ("BLK", "WHT", "NVY", "RED", "GRN", "GRY")
SIZES = ("XS", "S", "M", "L", "XL")
MAPPED_REASONS = tuple(range(1, 9))
UNMAPPED_REASON = 42
GRADES = (("A", 55), ("B", 15), ("C", 14), ("D", 11), ("F", 5))
DISPOSITION_OF_GRADE = {
    "A": "RESTOCK",
    "B": "REFURBISH",
    "C": "LIQUIDATE",
    "D": "DESTROY",
    "F": "RTV",
}
CSV_COLUMNS = (
    "event_id",
    "event_type",
    "occurred_at",
    "retailer_code",
    "order_number",
    "return_id",
    "dc_warehouse",
    "channel_order_ref",
    "rma_id",
    "line_id",
    "sku",
    "quantity",
    "return_reason_id",
    "grade",
    "disposition",
    "charge_id",
    "charge_type",
    "charge_amount",
    "currency",
)


@dataclass(frozen=True)
class Product:
    sku: str
    ean: str
    asin: str
    aliases: tuple[str, ...]
    active: bool
    unit_cost: int
    non_inventory: bool = False


@dataclass
class DemoDay:
    """A generated day: the catalog, ZigZag's events in delivery order, and Amazon's refunds."""

    seed: int
    products: list[Product]
    events: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: list[list[str]] = field(default_factory=list)
    planted: dict[str, int] = field(default_factory=dict)


def _ean13(rng: random.Random) -> str:
    body = "50" + "".join(rng.choice(string.digits) for _ in range(10))
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _asin(rng: random.Random) -> str:
    return "B0" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(8))


def make_catalog(rng: random.Random, size: int) -> list[Product]:
    products: list[Product] = []
    seen: set[str] = set()
    while len(products) < size:
        style = rng.randint(100, 999)
        sku = f"CAS-{style}-{rng.choice(COLOURS)}-{rng.choice(SIZES)}"
        if sku.replace("-", "") in seen:
            continue
        seen.add(sku.replace("-", ""))
        aliases = (f"LEGACY{style}{len(products):04d}",) if rng.random() < 0.2 else ()
        products.append(
            Product(
                sku=sku,
                ean=_ean13(rng),
                asin=_asin(rng),
                aliases=aliases,
                active=rng.random() > 0.06,
                unit_cost=rng.randint(500, 8000),
            )
        )
    products.append(Product("FEE-DAMAGED-ITEM", _ean13(rng), _asin(rng), (), True, 0, True))
    products.append(Product("FEE-REPACKAGING", _ean13(rng), _asin(rng), (), True, 0, True))
    return products


def scanned_form(rng: random.Random, product: Product) -> str:
    """The SKU as a warehouse might scan or type it."""
    roll = rng.random()
    if roll < 0.40:
        return product.sku
    if roll < 0.50:
        return product.sku.lower()
    if roll < 0.58:
        return product.sku.replace("-", "")
    if roll < 0.65:
        return product.sku.replace("-", "_")
    if roll < 0.78:
        return product.ean
    if roll < 0.83:
        return "0" + product.ean  # GTIN-14 with a leading zero
    if roll < 0.93:
        return product.asin
    return product.aliases[0] if product.aliases else product.sku.lower().replace("-", " ")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _weighted_grade(rng: random.Random) -> str:
    return rng.choices([g for g, _ in GRADES], weights=[w for _, w in GRADES])[0]


class _DayBuilder:
    def __init__(self, returns: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.returns = returns
        self.day = DemoDay(seed=seed, products=make_catalog(self.rng, max(40, returns // 8)))
        self.sellable = [p for p in self.day.products if p.active and not p.non_inventory]
        self.inactive = [p for p in self.day.products if not p.active]
        self.counter = 0
        self.planted = self.day.planted

    def plant(self, what: str) -> None:
        self.planted[what] = self.planted.get(what, 0) + 1

    def event(self, kind: str, at: datetime, head: dict[str, Any], **body: Any) -> dict[str, Any]:
        self.counter += 1
        event = {
            "id": f"zz-evt-{self.day.seed}-{self.counter:07d}",
            "type": kind,
            "occurredAt": _iso(at),
            **head,
            **body,
        }
        self.day.events.append(event)
        return event

    def build(self) -> DemoDay:
        for number in range(1, self.returns + 1):
            self.one_return(number)
        self.disorder()
        self.bad_input()
        return self.day

    def pick_line(self, line_no: int) -> tuple[dict[str, Any], Product | None]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.02:
            self.plant("unknown_sku")
            scanned = f"ZZ-{rng.randint(10000, 99999)}-UNK"
            product = None
        else:
            pool = self.inactive if roll < 0.05 and self.inactive else self.sellable
            product = rng.choice(pool)
            scanned = scanned_form(rng, product)
            if not product.active:
                self.plant("inactive_sku")
        reason = rng.choice(MAPPED_REASONS)
        if rng.random() < 0.015:
            reason = UNMAPPED_REASON
            self.plant("unmapped_reason")
        qty = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
        line = {"lineId": str(line_no), "sku": scanned, "quantity": qty, "returnReasonId": reason}
        return line, product

    def one_return(self, number: int) -> None:
        rng = self.rng
        seed = self.day.seed
        start = DAY_START + timedelta(minutes=rng.randint(0, 16 * 60))
        digits = [
            rng.randint(200, 299),
            rng.randint(10**6, 10**7 - 1),
            rng.randint(10**6, 10**7 - 1),
        ]
        order_ref = "-".join(str(d) for d in digits)
        head = {
            "retailerCode": "CASTORE",
            "orderNumber": f"CAS{seed:02d}{number:07d}",
            "returnId": f"ZZR-{seed}-{number:06d}",
            "dcWarehouse": rng.choice(WAREHOUSES),
            "channelOrderRef": order_ref,
        }
        if rng.random() < 0.3:
            head["rmaId"] = f"RMA{rng.randint(10**8, 10**9 - 1)}"
        picked = [self.pick_line(i) for i in range(1, rng.choices([1, 2, 3], [70, 22, 8])[0] + 1)]
        lines = [line for line, _ in picked]

        line, product = picked[0]
        if rng.random() < 0.05 and product is not None:
            self.refund(order_ref, line, product, start - timedelta(hours=rng.randint(1, 30)))
            if rng.random() < 0.3:
                self.plant("rfs_without_goods")
                return  # Amazon refunded; ZigZag never sees the parcel today

        self.event("return.registered", start, head, lines=lines)
        roll = rng.random()
        if roll < 0.04:
            self.plant("cancelled")
            self.event("return.cancelled", start + timedelta(minutes=30), head)
            return
        at = start + timedelta(hours=rng.randint(1, 6))
        self.event("return.in_transit", at, head)
        if roll < 0.10:
            return  # still on its way
        at += timedelta(hours=rng.randint(4, 30))
        received = []
        for line in lines:
            qty = line["quantity"]
            if rng.random() < 0.012:
                qty += 1
                self.plant("over_received")
            received.append({"lineId": line["lineId"], "sku": line["sku"], "quantity": qty})
        self.event("return.received", at, head, lines=received)
        if roll < 0.15:
            return  # waiting to be graded
        at += timedelta(hours=rng.randint(1, 12))
        graded = []
        for line in received:
            grade = _weighted_grade(rng)
            graded.append({"lineId": line["lineId"], "grade": grade, "quantity": line["quantity"]})
        self.event("return.graded", at, head, lines=graded)
        if roll < 0.20:
            return  # graded, disposition not yet decided
        at += timedelta(minutes=rng.randint(5, 240))
        disposed = []
        for line in graded:
            disposition = DISPOSITION_OF_GRADE[line["grade"]]
            if rng.random() < 0.01:
                disposition = "DONATE"
                self.plant("unmapped_disposition")
            disposed.append(
                {"lineId": line["lineId"], "grade": line["grade"], "disposition": disposition}
            )
        self.event("return.disposition_set", at, head, lines=disposed)
        if rng.random() < 0.07:
            fee_type = "DAMAGED_ITEM_FEE" if rng.random() > 0.08 else "LATE_HANDLING_FEE"
            if fee_type != "DAMAGED_ITEM_FEE":
                self.plant("unmapped_charge")
            amount = rng.randint(150, 650)
            self.event(
                "charge.created",
                at + timedelta(minutes=1),
                head,
                charge={
                    "chargeId": f"CHG-{seed}-{number:06d}",
                    "type": fee_type,
                    "amount": f"{amount // 100}.{amount % 100:02d}",
                    "currency": "GBP",
                    "sku": "FEE-DAMAGED-ITEM",
                },
            )

    def refund(self, order_ref: str, line: dict[str, Any], product: Product, at: datetime) -> None:
        self.plant("rfs")
        self.day.refunds.append(
            {
                "id": f"amzn-rfs-{self.day.seed}-{len(self.day.refunds) + 1:06d}",
                "type": "refund.first_scan",
                "orderId": order_ref,
                "asin": product.asin,
                "quantity": line["quantity"],
                "amount": f"{product.unit_cost * 2 / 100:.2f}",
                "currency": "GBP",
                "refundedAt": _iso(at),
            }
        )

    def disorder(self) -> None:
        """Deliver late, early and twice, as webhooks retried over days do."""
        rng = self.rng
        events = self.day.events
        events.sort(key=lambda e: (e["occurredAt"], e["id"]))
        for i in range(len(events)):
            if rng.random() < 0.08:
                j = min(len(events) - 1, i + rng.randint(1, 40))
                events[i], events[j] = events[j], events[i]
        duplicates = [dict(e) for e in events if rng.random() < 0.04]
        self.planted["duplicates"] = len(duplicates)
        for dup in duplicates:
            events.insert(rng.randint(0, len(events)), dup)

    def bad_input(self) -> None:
        """A few rows a real export carries: malformed, unknown type, negative quantity."""
        rng = self.rng
        count = max(3, self.returns // 500)
        for n in range(count):
            kind = n % 3
            row = [
                f"zz-bad-{self.day.seed}-{n}",
                "return.received",
                _iso(DAY_START),
                "CASTORE",
                "CAS-BAD",
                f"ZZR-BAD-{n}",
                "UK-DC1",
                "",
                "",
                "1",
                rng.choice(self.sellable).sku,
                "1",
                "1",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
            if kind == 0:
                row = row[:7]  # a truncated row
            elif kind == 1:
                row[1] = "return.teleported"
            else:
                row[11] = "-2"
            self.day.bad_rows.append(row)
        self.planted["bad_rows"] = count


def generate_day(returns: int, seed: int) -> DemoDay:
    """A deterministic day of ``returns`` returns for ``seed``."""
    if returns < 1:
        raise ValueError("a day needs at least one return")
    return _DayBuilder(returns, seed).build()


def write_catalog(day: DemoDay, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "sku",
                "asin",
                "ean",
                "aliases",
                "active",
                "non_inventory",
                "unit_cost",
                "currency",
                "description",
            ]
        )
        for p in day.products:
            writer.writerow(
                [
                    p.sku,
                    p.asin,
                    p.ean,
                    "|".join(p.aliases),
                    "true" if p.active else "false",
                    "true" if p.non_inventory else "false",
                    f"{p.unit_cost // 100}.{p.unit_cost % 100:02d}",
                    "GBP",
                    f"Demo product {p.sku}",
                ]
            )


def export_rows(event: dict[str, Any]) -> Iterable[list[str]]:
    """ZigZag's CSV export form of one event: one row per line (or one for the event)."""
    head = [
        event["id"],
        event["type"],
        event["occurredAt"],
        event.get("retailerCode", ""),
        event.get("orderNumber", ""),
        event["returnId"],
        event.get("dcWarehouse", ""),
        event.get("channelOrderRef", ""),
        event.get("rmaId", ""),
    ]
    charge = event.get("charge")
    if charge:
        yield [
            *head,
            "",
            charge.get("sku", ""),
            "",
            "",
            "",
            "",
            charge["chargeId"],
            charge["type"],
            charge["amount"],
            charge["currency"],
        ]
    for line in event.get("lines", ()):
        yield [
            *head,
            line["lineId"],
            line.get("sku", ""),
            str(line.get("quantity", "")),
            str(line.get("returnReasonId", "")),
            line.get("grade", ""),
            line.get("disposition", ""),
            "",
            "",
            "",
            "",
        ]
    if not charge and not event.get("lines"):
        yield [*head, *[""] * 10]


def bad_row_positions(day: DemoDay) -> dict[int, list[list[str]]]:
    """Where the export puts each bad row: after the event of that index (delivery order)."""
    rng = random.Random(day.seed + 1)
    positions: dict[int, list[list[str]]] = {}
    for row in day.bad_rows:
        positions.setdefault(rng.randint(0, max(0, len(day.events) - 1)), []).append(row)
    return positions


def write_export(day: DemoDay, path: Path) -> None:
    """ZigZag's CSV export of the day, in delivery order, bad rows spread through it."""
    positions = bad_row_positions(day)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for index, event in enumerate(day.events):
            for row in export_rows(event):
                writer.writerow(row)
            writer.writerows(positions.get(index, ()))


_EVENT_COLUMNS = {
    "event_id": "id",
    "event_type": "type",
    "occurred_at": "occurredAt",
    "retailer_code": "retailerCode",
    "order_number": "orderNumber",
    "return_id": "returnId",
    "dc_warehouse": "dcWarehouse",
    "channel_order_ref": "channelOrderRef",
    "rma_id": "rmaId",
}
_LINE_COLUMNS = {
    "line_id": "lineId",
    "sku": "sku",
    "quantity": "quantity",
    "return_reason_id": "returnReasonId",
    "grade": "grade",
    "disposition": "disposition",
}


def _json_cell(column: str, value: str) -> str | int:
    if column in ("quantity", "return_reason_id"):
        try:
            return int(value)
        except ValueError:
            return value
    return value


def bad_event(row: list[str]) -> dict[str, Any]:
    """The JSON form of a bad export row, broken the same way (for the webhook and polling feeds).

    A truncated row becomes an object cut at the same field (a ``return.received`` without its
    lines), an unknown type stays unknown, a negative quantity stays negative: every bad row is
    an event the contract refuses, whatever the transport.
    """
    cells = dict(zip(CSV_COLUMNS, row, strict=False))
    event: dict[str, Any] = {
        key: cells[column] for column, key in _EVENT_COLUMNS.items() if cells.get(column)
    }
    line = {
        key: _json_cell(column, cells[column])
        for column, key in _LINE_COLUMNS.items()
        if cells.get(column)
    }
    if line:
        event["lines"] = [line]
    return event


def feed_events(day: DemoDay) -> list[dict[str, Any]]:
    """The day's events as ZigZag's JSON transports deliver them (webhooks, the polling feed).

    The generator's delivery order, duplicates included, with each bad row's JSON form
    (``bad_event``) at the very place the CSV export puts the row: the three transports carry
    the same events in the same order.
    """
    positions = bad_row_positions(day)
    events: list[dict[str, Any]] = []
    for index, event in enumerate(day.events):
        events.append(event)
        events.extend(bad_event(row) for row in positions.get(index, ()))
    return events


def write_refunds(day: DemoDay, path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for refund in day.refunds:
            handle.write(json.dumps(refund, sort_keys=True) + "\n")
