"""Helpers for pipeline tests: a hand-moved clock, a small catalog, ZigZag events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from returnbridge.bootstrap import App
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import InboxRecord

CATALOG = """sku,asin,ean,aliases,active,non_inventory,unit_cost,currency,description
CAS-123-BLK-M,B0CAS12345,5012345678900,OLD-123,true,false,20.00,GBP,Training top
CAS-456-WHT-L,B0CAS45678,5012345678917,,true,false,35.50,GBP,Match shorts
CAS-789-RED-S,B0CAS78901,5012345678924,,false,false,12.00,GBP,Discontinued cap
FEE-DAMAGED-ITEM,,,,true,true,0,GBP,Damaged item fee
"""

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A clock tests move by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def zz_event(event_id: str, kind: str, return_id: str, minute: int, **body: Any) -> dict[str, Any]:
    """A ZigZag event as its webhook or export would carry it."""
    return {
        "id": event_id,
        "type": kind,
        "occurredAt": (T0 + timedelta(minutes=minute)).isoformat(),
        "retailerCode": "CASTORE",
        "returnId": return_id,
        "dcWarehouse": "UK-DC1",
        "channelOrderRef": f"order-of-{return_id}",
        **body,
    }


def send(rb: App, *events: dict[str, Any], source: str = "zigzag") -> None:
    """Ingest events as a transport would, then drain the inbox."""
    records = [
        InboxRecord(source, e["id"], e["type"], json.dumps(e), f"zz:{e.get('returnId')}")
        for e in events
    ]
    with rb.stores() as store:
        ingest(store, records, rb.clock())
    rb.processor.drain()


def full_return(
    return_id: str,
    sku: str,
    grade: str,
    disposition: str,
    qty: int = 1,
    reason: int = 3,
    received: int | None = None,
) -> list[dict[str, Any]]:
    """The five life-cycle events of a one-line return."""
    line = {"lineId": "1", "sku": sku, "quantity": qty, "returnReasonId": reason}
    return [
        zz_event(f"{return_id}-reg", "return.registered", return_id, 0, lines=[line]),
        zz_event(f"{return_id}-transit", "return.in_transit", return_id, 60),
        zz_event(
            f"{return_id}-rcv",
            "return.received",
            return_id,
            600,
            lines=[{"lineId": "1", "sku": sku, "quantity": received or qty}],
        ),
        zz_event(
            f"{return_id}-grd",
            "return.graded",
            return_id,
            700,
            lines=[{"lineId": "1", "grade": grade}],
        ),
        zz_event(
            f"{return_id}-dsp",
            "return.disposition_set",
            return_id,
            720,
            lines=[{"lineId": "1", "grade": grade, "disposition": disposition}],
        ),
    ]


def refund_at_first_scan(order_id: str, event_id: str = "RFS-1") -> dict[str, Any]:
    """Amazon refunded the customer of ``order_id`` at first carrier scan."""
    return {
        "id": event_id,
        "type": "refund.first_scan",
        "orderId": order_id,
        "asin": "B0CAS12345",
        "quantity": 1,
        "amount": "40.00",
        "currency": "GBP",
        "refundedAt": "2026-11-01T10:00:00+00:00",
    }


def charge(
    return_id: str, minute: int, charge_type: str = "DAMAGED_ITEM_FEE", amount: str = "4.50"
) -> dict[str, Any]:
    """A ZigZag charge.created event on a return."""
    return zz_event(
        f"{return_id}-charge-{minute}",
        "charge.created",
        return_id,
        minute,
        charge={
            "chargeId": f"CHG-{return_id}-{minute}",
            "type": charge_type,
            "amount": amount,
            "currency": "GBP",
        },
    )
