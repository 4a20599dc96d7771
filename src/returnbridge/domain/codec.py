"""Explicit, versionless mapping of ``ReturnEvent`` to and from plain JSON-ready dicts.

This is returnbridge's own canonical form of an event (stored with each case), not a partner's
wire format: connectors translate partner shapes into ``ReturnEvent`` first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from returnbridge.domain.events import (
    ChargeFact,
    EventType,
    LineFact,
    Override,
    RefundFact,
    ReturnEvent,
)
from returnbridge.domain.money import Money

_HEADER = ("return_id", "order_ref", "retailer_code", "order_number", "warehouse", "rma_id")
_LINE = ("sku", "quantity", "reason", "grade", "disposition")


def event_to_dict(event: ReturnEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": event.source,
        "event_id": event.event_id,
        "type": event.type.value,
        "occurred_at": event.occurred_at.isoformat(),
    }
    out.update({k: getattr(event, k) for k in _HEADER if getattr(event, k) is not None})
    if event.lines:
        out["lines"] = [
            {"line_id": f.line_id, **{k: getattr(f, k) for k in _LINE if getattr(f, k) is not None}}
            for f in event.lines
        ]
    if event.charge is not None:
        c = event.charge
        out["charge"] = {
            "charge_id": c.charge_id,
            "charge_type": c.charge_type,
            "amount": c.amount.amount,
            "currency": c.amount.currency,
            "sku": c.sku,
        }
    if event.refund is not None:
        r = event.refund
        out["refund"] = {
            "order_id": r.order_id,
            "sku": r.sku,
            "quantity": r.quantity,
            "amount": r.amount.amount,
            "currency": r.amount.currency,
            "refunded_at": r.refunded_at.isoformat(),
        }
    if event.override is not None:
        o = event.override
        out["override"] = {
            "line_id": o.line_id,
            "actor": o.actor,
            "action": o.action,
            "note": o.note,
            "sku": o.sku,
            "reason": o.reason,
            "disposition": o.disposition,
            "write_off": o.write_off,
            "accept_quantity": o.accept_quantity,
            "ignore": list(o.ignore),
        }
    return out


def event_from_dict(data: dict[str, Any]) -> ReturnEvent:
    charge = refund = override = None
    if c := data.get("charge"):
        charge = ChargeFact(
            c["charge_id"], c["charge_type"], Money(c["amount"], c["currency"]), c.get("sku")
        )
    if r := data.get("refund"):
        refund = RefundFact(
            r["order_id"],
            r["sku"],
            r["quantity"],
            Money(r["amount"], r["currency"]),
            datetime.fromisoformat(r["refunded_at"]),
        )
    if o := data.get("override"):
        override = Override(
            line_id=o["line_id"],
            actor=o["actor"],
            action=o.get("action", "reprocess"),
            note=o.get("note", ""),
            sku=o.get("sku"),
            reason=o.get("reason"),
            disposition=o.get("disposition"),
            write_off=bool(o.get("write_off")),
            accept_quantity=bool(o.get("accept_quantity")),
            ignore=tuple(o.get("ignore", ())),
        )
    return ReturnEvent(
        source=data["source"],
        event_id=data["event_id"],
        type=EventType(data["type"]),
        occurred_at=datetime.fromisoformat(data["occurred_at"]),
        lines=tuple(
            LineFact(line_id=f["line_id"], **{k: f.get(k) for k in _LINE})
            for f in data.get("lines", ())
        ),
        charge=charge,
        refund=refund,
        override=override,
        **{k: data.get(k) for k in _HEADER},
    )
