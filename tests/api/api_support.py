"""Helpers for the API tests: a moving clock, a small catalog, returns that raise exceptions of
each side, and a running service holding one token per role."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Role
from returnbridge.entrypoints.http import RunningService
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import InboxRecord
from returnbridge.store.tables import audit_log, exceptions

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

CATALOG = """sku,asin,ean,aliases,active,non_inventory,unit_cost,currency,description
CAS-123-BLK-M,B0CAS12345,5012345678900,,true,false,20.00,GBP,Training top
FEE-DAMAGED-ITEM,,,,true,true,0,GBP,Damaged item fee
"""

NAMES = {
    Role.VIEWER: "vic.viewer",
    Role.OPS: "olga.ops",
    Role.FINANCE: "fred.finance",
    Role.ADMIN: "ada.admin",
}


class Clock:
    """Moves a second per reading, so every record has its own time."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _event(event_id: str, kind: str, return_id: str, minute: int, **body: Any) -> dict[str, Any]:
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


def graded_return(
    return_id: str, sku: str = "CAS-123-BLK-M", reason: int = 3
) -> list[dict[str, Any]]:
    """A one-line return received, graded A and restocked (ZigZag's reason ``reason``)."""
    line = {"lineId": "1", "sku": sku, "quantity": 1, "returnReasonId": reason}
    return [
        _event(f"{return_id}-reg", "return.registered", return_id, 0, lines=[line]),
        _event(f"{return_id}-rcv", "return.received", return_id, 600, lines=[line]),
        _event(
            f"{return_id}-dsp",
            "return.disposition_set",
            return_id,
            720,
            lines=[{"lineId": "1", "grade": "A", "disposition": "RESTOCK"}],
        ),
    ]


def unmapped_reason(return_id: str) -> list[dict[str, Any]]:
    """Stock side: reason 42 is in no mapping (ignorable with a note)."""
    return graded_return(return_id, reason=42)


def unknown_sku(return_id: str) -> list[dict[str, Any]]:
    """Stock side: a SKU the catalog does not know (cannot be ignored: it holds a unit)."""
    return graded_return(return_id, sku="MYSTERY-1")


def unmapped_charge(return_id: str) -> list[dict[str, Any]]:
    """Money side: a fee whose type has no GL accounts (ignorable with a note)."""
    charge = {
        "chargeId": f"CHG-{return_id}",
        "type": "LATE_FEE",
        "amount": "4.50",
        "currency": "GBP",
    }
    return [_event(f"{return_id}-charge", "charge.created", return_id, 5, charge=charge)]


def send(rb: App, events: list[dict[str, Any]]) -> None:
    """Ingest events as a transport would, then drain the inbox."""
    records = [
        InboxRecord("zigzag", e["id"], e["type"], json.dumps(e), f"zz:{e['returnId']}")
        for e in events
    ]
    with rb.stores() as store:
        ingest(store, records, rb.clock())
    rb.processor.drain()


def open_ids(rb: App, code: str) -> list[int]:
    with rb.engine.connect() as conn:
        rows = conn.execute(
            select(exceptions.c.id)
            .where(exceptions.c.code == code, exceptions.c.status == "open")
            .order_by(exceptions.c.id)
        )
        return [int(r.id) for r in rows]


def status_of(rb: App, exception_id: int) -> str:
    with rb.engine.connect() as conn:
        return str(
            conn.execute(
                select(exceptions.c.status).where(exceptions.c.id == exception_id)
            ).scalar_one()
        )


def audit_rows(rb: App) -> list[dict[str, Any]]:
    with rb.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id))
        return [
            {
                **r._mapping,
                "before": json.loads(r.before) if r.before else None,
                "after": json.loads(r.after) if r.after else None,
            }
            for r in rows
        ]


@dataclass
class Api:
    """A running service with one token per role (``tokens``) and one revoked (``revoked``)."""

    rb: App
    running: RunningService
    client: httpx.Client
    tokens: dict[Role, str]
    revoked: str
    stock: list[int] = field(default_factory=list)  # open UNMAPPED_REASON exceptions
    money: list[int] = field(default_factory=list)  # open UNMAPPED_CHARGE exceptions

    def as_(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


StartApi = Callable[..., Api]
MakeApp = Callable[..., App]
