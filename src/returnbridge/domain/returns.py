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

from returnbridge.domain.events import (
    WAREHOUSE_SCANS,
    ChargeFact,
    EventType,
    LineFact,
    Override,
    RefundFact,
    ReturnEvent,
)


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
    graded_at: datetime | None = None  # when the warehouse last graded or disposed of them

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
        return not (
            self.sku_scanned is None
            and self.expected_qty is None
            and self.received_qty is None
            and self.graded_qty is None
            and self.disposed_qty is None
            and self.reason is None
            and self.grade is None
            and self.disposition is None
        )


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
    """The facts of one line gathered so far, from events added in ascending precedence.

    Each event therefore outranks the ones before it: a value it gives replaces the last one,
    and a value it does not give (None) leaves it. The SKU is the exception: a warehouse scan
    names the unit in hand, so it outranks the SKU given at registration, whatever the times.
    """

    __slots__ = (
        "accept_quantity",
        "decisions",
        "disposed_qty",
        "disposition",
        "disposition_override",
        "expected_qty",
        "grade",
        "graded_at",
        "graded_qty",
        "ignored",
        "reason",
        "reason_override",
        "received_at",
        "received_qty",
        "sku_other",
        "sku_override",
        "sku_scan",
        "write_off",
    )

    def __init__(self) -> None:
        self.sku_scan: str | None = None  # named by the latest warehouse scan that named one
        self.sku_other: str | None = None  # named by the latest other event that named one
        self.expected_qty: int | None = None
        self.received_qty: int | None = None
        self.graded_qty: int | None = None
        self.disposed_qty: int | None = None
        self.reason: str | None = None
        self.grade: str | None = None
        self.disposition: str | None = None
        self.sku_override: str | None = None
        self.reason_override: str | None = None
        self.disposition_override: str | None = None
        self.write_off = False
        self.accept_quantity = False
        self.ignored: set[str] = set()
        self.decisions = 0
        self.received_at: datetime | None = None
        self.graded_at: datetime | None = None

    def add_fact(self, event: ReturnEvent, fact: LineFact) -> None:
        kind = event.type
        scan = kind in WAREHOUSE_SCANS
        if scan and self.received_at is None:
            self.received_at = event.occurred_at  # the first scan is the earliest
        if fact.sku:
            if scan:
                self.sku_scan = fact.sku
            else:
                self.sku_other = fact.sku
        if fact.reason is not None:
            self.reason = fact.reason
        quantity = fact.quantity
        if kind is EventType.REGISTERED:
            if quantity is not None:
                self.expected_qty = quantity
        elif kind is EventType.RECEIVED:
            if quantity is not None:
                self.received_qty = quantity
        elif kind is EventType.GRADED:
            self.graded_at = event.occurred_at  # events come in ascending precedence: the latest
            if quantity is not None:
                self.graded_qty = quantity
            if fact.grade is not None:
                self.grade = fact.grade
        elif kind is EventType.DISPOSITION_SET:
            self.graded_at = event.occurred_at
            if quantity is not None:
                self.disposed_qty = quantity
            if fact.grade is not None:
                self.grade = fact.grade
            if fact.disposition is not None:
                self.disposition = fact.disposition

    def add_override(self, override: Override) -> None:
        if override.sku is not None:
            self.sku_override = override.sku
        if override.reason is not None:
            self.reason_override = override.reason
        if override.disposition is not None:
            self.disposition_override = override.disposition
        if override.write_off:
            self.write_off = True
        if override.accept_quantity:
            self.accept_quantity = True
        self.ignored.update(override.ignore)
        self.decisions += 1

    def state(self, line_id: str) -> LineState:
        return LineState(
            line_id=line_id,
            sku_scanned=self.sku_scan if self.sku_scan is not None else self.sku_other,
            expected_qty=self.expected_qty,
            received_qty=self.received_qty,
            graded_qty=self.graded_qty,
            disposed_qty=self.disposed_qty,
            reason=self.reason,
            grade=self.grade,
            disposition=self.disposition,
            sku_override=self.sku_override,
            reason_override=self.reason_override,
            disposition_override=self.disposition_override,
            write_off=self.write_off,
            accept_quantity=self.accept_quantity,
            ignored=frozenset(self.ignored),
            decisions=self.decisions,
            received_at=self.received_at,
            graded_at=self.graded_at,
        )


class _Header:
    """The case's header fields, each as named by the newest event that names it."""

    __slots__ = ("order_number", "order_ref", "retailer_code", "return_id", "rma_id", "warehouse")

    def __init__(self) -> None:
        self.return_id: str | None = None
        self.order_ref: str | None = None
        self.retailer_code: str | None = None
        self.order_number: str | None = None
        self.warehouse: str | None = None
        self.rma_id: str | None = None

    def add(self, event: ReturnEvent) -> None:
        """Take what ``event`` names, from events added in ascending precedence."""
        if event.return_id is not None:
            self.return_id = event.return_id
        if event.order_ref is not None:
            self.order_ref = event.order_ref
        if event.retailer_code is not None:
            self.retailer_code = event.retailer_code
        if event.order_number is not None:
            self.order_number = event.order_number
        if event.warehouse is not None:
            self.warehouse = event.warehouse
        if event.rma_id is not None:
            self.rma_id = event.rma_id


def fold_case(case_key: str, events: Iterable[ReturnEvent]) -> CaseFacts:
    """Merge the events of one case into its facts. Duplicates and order do not matter."""
    unique = {(e.source, e.event_id): e for e in events}
    ordered = sorted(unique.values(), key=lambda e: e.precedence)
    header = _Header()
    lines: dict[str, _LineAcc] = {}
    charges: dict[str, ChargeFact] = {}
    refunds: dict[tuple[str, str], RefundFact] = {}
    registered = in_transit = cancelled = from_zigzag = False
    for event in ordered:
        header.add(event)
        kind = event.type
        if kind is EventType.MANUAL_OVERRIDE:
            override = event.override
            line_id = override.line_id if override is not None else ""
            acc = lines.get(line_id)
            if acc is None:
                acc = lines[line_id] = _LineAcc()
            if override is not None:
                acc.add_override(override)
            continue
        if kind is EventType.REFUND_AT_FIRST_SCAN:
            if event.refund is not None:
                refunds[(event.source, event.event_id)] = event.refund
            continue
        from_zigzag = True
        if kind is EventType.REGISTERED:
            registered = True
        elif kind is EventType.IN_TRANSIT:
            in_transit = True
        elif kind is EventType.CANCELLED:
            cancelled = True
        elif kind is EventType.CHARGE_CREATED and event.charge is not None:
            charges[event.charge.charge_id] = event.charge
        # Last first: of two facts one event gives about a line, the first stands (both have
        # the event's precedence, and a tie keeps what came first).
        for fact in reversed(event.lines):
            acc = lines.get(fact.line_id)
            if acc is None:
                acc = lines[fact.line_id] = _LineAcc()
            acc.add_fact(event, fact)
    return CaseFacts(
        case_key=case_key,
        return_id=header.return_id,
        order_ref=header.order_ref,
        retailer_code=header.retailer_code,
        order_number=header.order_number,
        warehouse=header.warehouse,
        rma_id=header.rma_id,
        registered=registered,
        in_transit=in_transit,
        cancelled=cancelled,
        from_zigzag=from_zigzag,
        lines={line_id: acc.state(line_id) for line_id, acc in sorted(lines.items())},
        charges=dict(sorted(charges.items())),
        refunds=tuple(refunds[k] for k in sorted(refunds)),
    )
