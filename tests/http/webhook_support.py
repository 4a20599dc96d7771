"""Helpers for the HTTP service tests: a hand-set clock, secrets, signing, ZigZag events.

Requests are signed with the standardwebhooks library, never with the service's own verifier,
so a misreading of the scheme cannot hide on both sides.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from returnbridge.bootstrap import App
from returnbridge.entrypoints.http import RunningService
from returnbridge.store.tables import exceptions, inbox, webhook_rejections

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"returnbridge-test-secret-one-32b").decode()
NEW_SECRET = "whsec_" + base64.b64encode(b"returnbridge-test-secret-two-32b").decode()
WRONG_SECRET = "whsec_" + base64.b64encode(b"not-the-secret-zigzag-was-given!").decode()
PATH = "/webhooks/zigzag"


class Clock:
    """The service's clock: stands still until a test moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Service:
    """A running service: its app (database, settings), server, client and clock."""

    rb: App
    running: RunningService
    client: httpx.Client
    clock: Clock


StartService = Callable[..., Service]


def signed_headers(
    body: bytes, msg_id: str, at: datetime = NOW, secrets: tuple[str, ...] = (SECRET,)
) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed by each of ``secrets``."""
    signatures = [Webhook(s).sign(msg_id, at, body.decode("utf-8")) for s in secrets]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }


def as_body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode("utf-8")


def post(
    client: httpx.Client,
    body: bytes,
    msg_id: str = "msg_1",
    at: datetime = NOW,
    secrets: tuple[str, ...] = (SECRET,),
) -> httpx.Response:
    """POST ``body`` to the webhook, correctly signed (by ``SECRET`` unless told otherwise)."""
    return client.post(PATH, content=body, headers=signed_headers(body, msg_id, at, secrets))


def received(
    event_id: str = "zz-evt-1003", return_id: str = "ZZR-000137", **fields: Any
) -> dict[str, Any]:
    """A valid ``return.received`` event (the example of docs/zigzag-events.md)."""
    return {
        "id": event_id,
        "type": "return.received",
        "occurredAt": "2026-11-03T08:15:00Z",
        "returnId": return_id,
        "dcWarehouse": "UK-DC2",
        "channelOrderRef": "204-8827143-1816728",
        "lines": [
            {"lineId": "1", "sku": "LEGACY8290002", "quantity": 1},
            {"lineId": "2", "sku": "cas_431_wht_l", "quantity": 2},
        ],
        **fields,
    }


def inbox_rows(rb: App) -> list[dict[str, Any]]:
    with rb.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(inbox).order_by(inbox.c.id))]


def exception_rows(rb: App) -> list[dict[str, Any]]:
    with rb.engine.connect() as conn:
        rows = conn.execute(select(exceptions).order_by(exceptions.c.id))
        return [dict(r._mapping) for r in rows]


def rejection_rows(rb: App) -> list[dict[str, Any]]:
    t = webhook_rejections
    with rb.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]
