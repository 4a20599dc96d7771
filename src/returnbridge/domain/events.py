"""Inbound facts, in the spec's vocabulary, as the pipeline sees them once a connector has read
them. Whatever the transport (webhook, polling, CSV), every fact becomes one ``ReturnEvent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from returnbridge.domain.money import Money


class EventType(StrEnum):
    REGISTERED = "return.registered"
    IN_TRANSIT = "return.in_transit"
    RECEIVED = "return.received"
    GRADED = "return.graded"
    DISPOSITION_SET = "return.disposition_set"
    CHARGE_CREATED = "charge.created"
    CANCELLED = "return.cancelled"
    REFUND_AT_FIRST_SCAN = "amazon.refund_at_first_scan"
    MANUAL_OVERRIDE = "manual.override"


# Ties on occurred_at are broken by the step of the life cycle, then by event id, so that the
# merged view of a case is a function of the *set* of its events, never of their arrival order.
TYPE_RANK: dict[EventType, int] = {t: i for i, t in enumerate(EventType)}

WAREHOUSE_SCANS = frozenset({EventType.RECEIVED, EventType.GRADED, EventType.DISPOSITION_SET})


@dataclass(frozen=True)
class LineFact:
    """What one event says about one line of a return; None means "not said here"."""

    line_id: str
    sku: str | None = None
    quantity: int | None = None
    reason: str | None = None
    grade: str | None = None
    disposition: str | None = None


@dataclass(frozen=True)
class ChargeFact:
    """A non-product charge ZigZag raised against a return (e.g. a damaged-item fee)."""

    charge_id: str
    charge_type: str
    amount: Money
    sku: str | None = None


@dataclass(frozen=True)
class RefundFact:
    """Amazon refunded the customer at first carrier scan, before the goods arrived."""

    order_id: str
    sku: str
    quantity: int
    amount: Money
    refunded_at: datetime


@dataclass(frozen=True)
class Override:
    """A person's decision on a line, recorded as an event so replays reach the same state."""

    line_id: str
    actor: str
    action: str = "reprocess"
    note: str = ""
    sku: str | None = None
    reason: str | None = None
    disposition: str | None = None
    write_off: bool = False
    accept_quantity: bool = False
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReturnEvent:
    """One inbound fact about a return case, keyed by (source, event_id)."""

    source: str
    event_id: str
    type: EventType
    occurred_at: datetime
    return_id: str | None = None
    order_ref: str | None = None
    retailer_code: str | None = None
    order_number: str | None = None
    warehouse: str | None = None
    rma_id: str | None = None
    lines: tuple[LineFact, ...] = ()
    charge: ChargeFact | None = None
    refund: RefundFact | None = None
    override: Override | None = None

    @property
    def precedence(self) -> tuple[datetime, int, str, str]:
        return (self.occurred_at, TYPE_RANK[self.type], self.source, self.event_id)

    @property
    def case_key(self) -> str:
        """The correlation key of the case this event belongs to."""
        if self.return_id:
            return f"zz:{self.return_id}"
        if self.order_ref:
            return f"order:{self.order_ref}"
        raise ValueError(f"event {self.source}/{self.event_id} names neither return nor order")
