"""ZigZag's event payloads (returnbridge's contract; see docs/zigzag-events.md).

This module is the only place that knows ZigZag's shapes: everything else sees ``ReturnEvent``.
ZigZag publishes its auth and feeds but not its event payloads, so the contract follows what
is public (``retailerCode``, ``orderNumber``, a string ``returnId``, ``dcWarehouse``, a numeric
``returnReasonId``) and is ours for the rest.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from returnbridge.connectors.validation import describe
from returnbridge.domain.errors import InvalidEvent
from returnbridge.domain.events import ChargeFact, EventType, LineFact, ReturnEvent
from returnbridge.domain.money import Money, parse_minor_units

SOURCE = "zigzag"
MAX_PAYLOAD = 1_000_000

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Scanned = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

EventName = Literal[
    "return.registered",
    "return.in_transit",
    "return.received",
    "return.graded",
    "return.disposition_set",
    "charge.created",
    "return.cancelled",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=10_000)


class WireLine(_Wire):
    lineId: Id
    sku: Scanned | None = None
    quantity: Annotated[int, Field(ge=1, le=10_000, strict=True)] | None = None
    returnReasonId: Annotated[int, Field(ge=0, le=1_000_000, strict=True)] | None = None
    grade: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)] | None
    ) = None
    disposition: Code | None = None


class WireCharge(_Wire):
    chargeId: Id
    type: Code
    amount: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^\d{1,9}(\.\d{1,2})?$")
    ]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    sku: Scanned | None = None


class WireEvent(_Wire):
    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    type: EventName
    occurredAt: AwareDatetime
    retailerCode: Code | None = None
    orderNumber: Id | None = None
    returnId: Id
    dcWarehouse: Code | None = None
    channelOrderRef: Id | None = None
    rmaId: Id | None = None
    lines: Annotated[list[WireLine], Field(max_length=500)] = Field(default_factory=list)
    charge: WireCharge | None = None

    @model_validator(mode="after")
    def _fits_its_type(self) -> WireEvent:
        needs = _NEEDS.get(self.type)
        if needs is not None:
            if not self.lines:
                raise ValueError(f"a {self.type} event needs at least one line")
            for line in self.lines:
                missing = [f for f in needs if getattr(line, f) is None]
                if missing:
                    raise ValueError(
                        f"line {line.lineId!r} of a {self.type} event lacks {', '.join(missing)}"
                    )
        if self.type in _AT_WAREHOUSE and not self.dcWarehouse:
            raise ValueError(f"a {self.type} event needs dcWarehouse")
        if self.type == "charge.created" and self.charge is None:
            raise ValueError("a charge.created event needs a charge")
        ids = [line.lineId for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError("an event names the same lineId twice")
        return self


_NEEDS: dict[str, tuple[str, ...]] = {
    "return.registered": ("sku", "quantity"),
    "return.received": ("quantity",),
    "return.graded": ("grade",),
    "return.disposition_set": ("disposition",),
}
_AT_WAREHOUSE = {"return.received", "return.graded", "return.disposition_set"}


def parse_wire(payload: str) -> WireEvent:
    if len(payload) > MAX_PAYLOAD:
        raise InvalidEvent(f"payload is {len(payload)} characters, over the {MAX_PAYLOAD} limit")
    # pydantic reads the text itself (no dict in between: a worker decodes every event it
    # applies); a payload it refuses is read again below, so the error says what it always did.
    try:
        return WireEvent.model_validate_json(payload)
    except ValidationError:
        pass
    try:
        data = json.loads(payload)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidEvent(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidEvent("payload is not a JSON object")
    try:
        return WireEvent.model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from exc


def to_event(wire: WireEvent) -> ReturnEvent:
    """ZigZag's shape to returnbridge's ``ReturnEvent``."""
    charge = None
    if wire.charge is not None:
        c = wire.charge
        charge = ChargeFact(
            c.chargeId, c.type, Money(parse_minor_units(c.amount), c.currency), c.sku
        )
    return ReturnEvent(
        source=SOURCE,
        event_id=wire.id,
        type=EventType(wire.type),
        occurred_at=wire.occurredAt,
        return_id=wire.returnId,
        order_ref=wire.channelOrderRef,
        retailer_code=wire.retailerCode,
        order_number=wire.orderNumber,
        warehouse=wire.dcWarehouse,
        rma_id=wire.rmaId,
        lines=tuple(
            LineFact(
                line_id=line.lineId,
                sku=line.sku,
                quantity=line.quantity,
                reason=str(line.returnReasonId) if line.returnReasonId is not None else None,
                grade=line.grade,
                disposition=line.disposition,
            )
            for line in wire.lines
        ),
        charge=charge,
    )


def decode(source: str, event_id: str, payload: str) -> ReturnEvent:
    """The inbox decoder for ZigZag events: stored payload to ``ReturnEvent``."""
    event = to_event(parse_wire(payload))
    if event.event_id != event_id:
        raise InvalidEvent(f"payload id {event.event_id!r} differs from its key {event_id!r}")
    return event
