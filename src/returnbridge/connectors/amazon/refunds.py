"""Amazon refund-at-first-scan facts, as returnbridge stores them in its inbox.

Vendor Central has no returns API: these facts come from its report exports (issue: Amazon
inbound facts). This module reads the JSON form each exported refund is stored in.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from returnbridge.connectors.validation import describe
from returnbridge.domain.errors import InvalidEvent
from returnbridge.domain.events import EventType, RefundFact, ReturnEvent
from returnbridge.domain.money import Money, parse_minor_units

SOURCE = "amazon"

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class RefundAtFirstScan(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Id
    type: Literal["refund.first_scan"]
    orderId: Id
    asin: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    quantity: Annotated[int, Field(ge=1, le=10_000, strict=True)]
    amount: Annotated[str, StringConstraints(pattern=r"^\d{1,9}(\.\d{1,2})?$")]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    refundedAt: AwareDatetime


def decode(source: str, event_id: str, payload: str) -> ReturnEvent:
    try:
        wire = RefundAtFirstScan.model_validate(json.loads(payload))
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"payload is not JSON: {exc}") from exc
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from exc
    if wire.id != event_id:
        raise InvalidEvent(f"payload id {wire.id!r} differs from its key {event_id!r}")
    return ReturnEvent(
        source=SOURCE,
        event_id=wire.id,
        type=EventType.REFUND_AT_FIRST_SCAN,
        occurred_at=wire.refundedAt,
        order_ref=wire.orderId,
        refund=RefundFact(
            wire.orderId,
            wire.asin,
            wire.quantity,
            Money(parse_minor_units(wire.amount), wire.currency),
            wire.refundedAt,
        ),
    )
