"""The return case: every fact known about one return, merged from the set of its events.

The merge is a pure function of the *set* of events: each field takes the value of the event
with the greatest precedence (occurred-at time, then life-cycle step, then id). So any delivery
order, with any duplicates, reaches the same case: a ``graded`` before ``received`` implies
receipt, and a late ``registered`` fills in what it knows without resetting what came after.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from returnbridge.domain.events import (
    WAREHOUSE_SCANS,
    ChargeFact,
    EventType,
    LineFact,
    RefundFact,
    ReturnEvent,
)

T = TypeVar("T")


class CaseStatus(StrEnum):
    PROVISIONAL = "provisional"
    REGISTERED = "registered"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    GRADED = "graded"
    DISPOSITION_SET = "disposition_set"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class LineStatus(StrEnum):
    REGISTERED = "registered"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    GRADED = "graded"
    CLOSED = "closed"
    EXCEPTION = "exception"
    CANCELLED = "cancelled"


Precedence = tuple[datetime, int, str, str]


class _Latest(Generic[T]):
    """Keeps the value with the greatest precedence key."""

    __slots__ = ("key", "value")

    def __init__(self) -> None:
        self.key: tuple[object, ...] | None = None
        self.value: T | None = None

    def offer(self, key: tuple[object, ...], value: T | None) -> None:
        if value is None:
            return
        if self.key is None or key > self.key:
            self.key, self.value = key, value


@dataclass(frozen=True)
class LineState:
    """The merged facts of one return line, and the decisions people took on it."""

    line_id: str
    sku_scanned: str | None = None
    expected_qty: int | None = None
    received_qty: int | None = None
    graded_qty: int | None = None
    disposed_qty: int | None = None
    reason: str | None = None
    grade: str | None = None
    disposition: str | None = None
    sku_override: str | None = None
    reason_override: str | None = None
    disposition_override: str | None = None
    write_off: bool = False
    accept_quantity: bool = False
    ignored: frozenset[str] = frozenset()
    decisions: int = 0  # how many times a person acted on the line (each re-evaluates it)
    received_at: datetime | None = None  # when the warehouse took the units in (first scan)

    @property
    def sku(self) -> str | None:
        return self.sku_override or self.sku_scanned

    @property
    def effective_reason(self) -> str | None:
        return self.reason_override or self.reason

    @property
    def effective_disposition(self) -> str | None:
        return self.disposition_override or self.disposition

    @property
    def units_received(self) -> int:
        """Units physically received; grading or disposing of a unit proves its receipt."""
        for qty in (self.received_qty, self.graded_qty, self.disposed_qty):
            if qty is not None:
                return qty
        if (self.grade is not None or self.disposition is not None) and self.expected_qty:
            # Graded or disposed of without a count: the registered units are in hand.
            return self.expected_qty
        return 0

    @property
    def has_facts(self) -> bool:
        """False for a line known only from a person's override, never from a partner."""
        facts = (
            self.sku_scanned,
            self.expected_qty,
            self.received_qty,
            self.graded_qty,
            self.disposed_qty,
            self.reason,
            self.grade,
            self.disposition,
        )
        return any(v is not None for v in facts)


@dataclass(frozen=True)
class CaseFacts:
    """Everything known about one return case."""

    case_key: str
    return_id: str | None = None
    order_ref: str | None = None
    retailer_code: str | None = None
    order_number: str | None = None
    warehouse: str | None = None
    rma_id: str | None = None
    registered: bool = False
    in_transit: bool = False
    cancelled: bool = False
    from_zigzag: bool = False
    lines: dict[str, LineState] = field(default_factory=dict)
    charges: dict[str, ChargeFact] = field(default_factory=dict)
    refunds: tuple[RefundFact, ...] = ()

    @property
    def provisional(self) -> bool:
        """Opened by an Amazon refund at first scan; ZigZag has not confirmed anything yet."""
        return bool(self.refunds) and not self.from_zigzag

    @property
    def any_received(self) -> bool:
        return any(line.units_received > 0 for line in self.lines.values())


class _LineAcc:
    def __init__(self) -> None:
        self.sku: _Latest[tuple[bool, str]] = _Latest()
        self.expected: _Latest[int] = _Latest()
        self.received: _Latest[int] = _Latest()
        self.graded_qty: _Latest[int] = _Latest()
        self.disposed_qty: _Latest[int] = _Latest()
        self.reason: _Latest[str] = _Latest()
        self.grade: _Latest[str] = _Latest()
        self.disposition: _Latest[str] = _Latest()
        self.sku_override: _Latest[str] = _Latest()
        self.reason_override: _Latest[str] = _Latest()
        self.disposition_override: _Latest[str] = _Latest()
        self.write_off: _Latest[bool] = _Latest()
        self.accept_quantity: _Latest[bool] = _Latest()
        self.ignored: set[str] = set()
        self.decisions = 0
        self.received_at: datetime | None = None

    def add_fact(self, event: ReturnEvent, fact: LineFact) -> None:
        key = event.precedence
        scan = event.type in WAREHOUSE_SCANS
        if scan and (self.received_at is None or event.occurred_at < self.received_at):
            self.received_at = event.occurred_at
        # A warehouse scan names the unit in hand; it outranks the SKU given at registration.
        self.sku.offer((scan, *key), (scan, fact.sku) if fact.sku else None)
        self.reason.offer(key, fact.reason)
        if event.type is EventType.REGISTERED:
            self.expected.offer(key, fact.quantity)
        elif event.type is EventType.RECEIVED:
            self.received.offer(key, fact.quantity)
        elif event.type is EventType.GRADED:
            self.graded_qty.offer(key, fact.quantity)
            self.grade.offer(key, fact.grade)
        elif event.type is EventType.DISPOSITION_SET:
            self.disposed_qty.offer(key, fact.quantity)
            self.grade.offer(key, fact.grade)
            self.disposition.offer(key, fact.disposition)

    def add_override(self, event: ReturnEvent) -> None:
        override = event.override
        assert override is not None
        key = event.precedence
        self.sku_override.offer(key, override.sku)
        self.reason_override.offer(key, override.reason)
        self.disposition_override.offer(key, override.disposition)
        if override.write_off:
            self.write_off.offer(key, True)
        if override.accept_quantity:
            self.accept_quantity.offer(key, True)
        self.ignored.update(override.ignore)
        self.decisions += 1

    def state(self, line_id: str) -> LineState:
        return LineState(
            line_id=line_id,
            sku_scanned=self.sku.value[1] if self.sku.value else None,
            expected_qty=self.expected.value,
            received_qty=self.received.value,
            graded_qty=self.graded_qty.value,
            disposed_qty=self.disposed_qty.value,
            reason=self.reason.value,
            grade=self.grade.value,
            disposition=self.disposition.value,
            sku_override=self.sku_override.value,
            reason_override=self.reason_override.value,
            disposition_override=self.disposition_override.value,
            write_off=bool(self.write_off.value),
            accept_quantity=bool(self.accept_quantity.value),
            ignored=frozenset(self.ignored),
            decisions=self.decisions,
            received_at=self.received_at,
        )


def fold_case(case_key: str, events: Iterable[ReturnEvent]) -> CaseFacts:
    """Merge the events of one case into its facts. Duplicates and order do not matter."""
    unique = {(e.source, e.event_id): e for e in events}
    ordered = sorted(unique.values(), key=lambda e: e.precedence)
    header: dict[str, _Latest[str]] = {
        name: _Latest()
        for name in (
            "return_id",
            "order_ref",
            "retailer_code",
            "order_number",
            "warehouse",
            "rma_id",
        )
    }
    lines: dict[str, _LineAcc] = {}
    charges: dict[str, ChargeFact] = {}
    refunds: dict[tuple[str, str], RefundFact] = {}
    flags = {"registered": False, "in_transit": False, "cancelled": False, "from_zigzag": False}
    for event in ordered:
        key = event.precedence
        for name, acc in header.items():
            acc.offer(key, getattr(event, name))
        if event.type is EventType.MANUAL_OVERRIDE:
            lines.setdefault(event.override.line_id if event.override else "", _LineAcc())
            if event.override is not None:
                lines[event.override.line_id].add_override(event)
            continue
        if event.type is EventType.REFUND_AT_FIRST_SCAN:
            if event.refund is not None:
                refunds[(event.source, event.event_id)] = event.refund
            continue
        flags["from_zigzag"] = True
        if event.type is EventType.REGISTERED:
            flags["registered"] = True
        elif event.type is EventType.IN_TRANSIT:
            flags["in_transit"] = True
        elif event.type is EventType.CANCELLED:
            flags["cancelled"] = True
        elif event.type is EventType.CHARGE_CREATED and event.charge is not None:
            charges[event.charge.charge_id] = event.charge
        for fact in event.lines:
            lines.setdefault(fact.line_id, _LineAcc()).add_fact(event, fact)
    return CaseFacts(
        case_key=case_key,
        return_id=header["return_id"].value,
        order_ref=header["order_ref"].value,
        retailer_code=header["retailer_code"].value,
        order_number=header["order_number"].value,
        warehouse=header["warehouse"].value,
        rma_id=header["rma_id"].value,
        lines={line_id: acc.state(line_id) for line_id, acc in sorted(lines.items())},
        charges=dict(sorted(charges.items())),
        refunds=tuple(refunds[k] for k in sorted(refunds)),
        **flags,
    )
