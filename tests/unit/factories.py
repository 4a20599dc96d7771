"""Factories shared by the unit tests: a small catalog and hand-made ZigZag events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from returnbridge.domain.catalog import Catalog, CatalogItem
from returnbridge.domain.events import (
    ChargeFact,
    EventType,
    LineFact,
    Override,
    RefundFact,
    ReturnEvent,
)
from returnbridge.domain.money import Money

DAY_START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)

ACTIVE_SKU = "CAS-123-BLK-M"
ACTIVE_COST = Money(1250, "GBP")
INACTIVE_SKU = "CAS-200-WHT-S"
FEE_SKU = "FEE-DAMAGED-ITEM"
UNKNOWN_SKU = "ZZ-99999-UNK"


def small_catalog() -> Catalog:
    return Catalog.of(
        [
            CatalogItem(ACTIVE_SKU, ACTIVE_COST, asin="B0CAS123BK", ean="5012345678900"),
            CatalogItem(INACTIVE_SKU, Money(900, "GBP"), active=False),
            CatalogItem(FEE_SKU, Money(0, "GBP"), non_inventory=True),
        ]
    )


class ZigZagStory:
    """Hand-made ZigZag events for one return, each a minute after the one before.

    Every product event speaks of one line (``line_id``, default ``"1"``).
    """

    def __init__(self, return_id: str = "ZZR-1") -> None:
        self.return_id = return_id
        self.count = 0

    def _event(
        self, kind: EventType, *, source: str = "zigzag", at: datetime | None = None, **fields: Any
    ) -> ReturnEvent:
        self.count += 1
        fields.setdefault("return_id", self.return_id)
        return ReturnEvent(
            source=source,
            event_id=f"{self.return_id}-evt-{self.count}",
            type=kind,
            occurred_at=at or DAY_START + timedelta(minutes=self.count),
            **fields,
        )

    def registered(
        self, sku: str = ACTIVE_SKU, qty: int = 1, reason: str = "1", line_id: str = "1"
    ) -> ReturnEvent:
        line = LineFact(line_id, sku=sku, quantity=qty, reason=reason)
        return self._event(EventType.REGISTERED, retailer_code="CASTORE", lines=(line,))

    def in_transit(self) -> ReturnEvent:
        return self._event(EventType.IN_TRANSIT)

    def received(self, qty: int = 1, line_id: str = "1") -> ReturnEvent:
        line = LineFact(line_id, quantity=qty)
        return self._event(EventType.RECEIVED, warehouse="UK-DC1", lines=(line,))

    def graded(self, grade: str, qty: int | None = 1, line_id: str = "1") -> ReturnEvent:
        line = LineFact(line_id, grade=grade, quantity=qty)
        return self._event(EventType.GRADED, warehouse="UK-DC1", lines=(line,))

    def disposed(
        self, disposition: str, grade: str | None = None, line_id: str = "1"
    ) -> ReturnEvent:
        line = LineFact(line_id, grade=grade, disposition=disposition)
        return self._event(EventType.DISPOSITION_SET, warehouse="UK-DC1", lines=(line,))

    def charge(
        self, charge_type: str = "DAMAGED_ITEM_FEE", amount: int = 320, charge_id: str = "CHG-1"
    ) -> ReturnEvent:
        fact = ChargeFact(charge_id, charge_type, Money(amount, "GBP"), FEE_SKU)
        return self._event(EventType.CHARGE_CREATED, charge=fact)

    def cancelled(self) -> ReturnEvent:
        return self._event(EventType.CANCELLED)

    def override(self, line_id: str = "1", **decision: Any) -> ReturnEvent:
        fact = Override(line_id=line_id, actor="ops@example.com", **decision)
        return self._event(EventType.MANUAL_OVERRIDE, source="manual", override=fact)

    def refund_at_first_scan(self, order_ref: str = "202-1234567-7654321") -> ReturnEvent:
        fact = RefundFact(order_ref, ACTIVE_SKU, 1, Money(2500, "GBP"), DAY_START)
        return self._event(
            EventType.REFUND_AT_FIRST_SCAN,
            source="amazon",
            return_id=None,
            order_ref=order_ref,
            refund=fact,
        )
