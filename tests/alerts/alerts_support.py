"""Helpers for the alert tests: a chat webhook stand-in on loopback, GitHub-style anchors of the
runbook, ZigZag events put in the inbox without processing them (directly, or POSTed as signed
webhooks to the running service)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from standardwebhooks.webhooks import Webhook
from starlette.responses import PlainTextResponse

from returnbridge.bootstrap import App
from returnbridge.domain.errors import AmazonUnavailable
from returnbridge.entrypoints.http import WEBHOOK_PATH, start_service
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import (
    CreditNote,
    InboxRecord,
    InventoryPosition,
    TransactionError,
    TransactionStatus,
)
from returnbridge.threaded_server import ThreadedServer, serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "operations.md"
MakeApp = Callable[..., App]
HOOK_PATH = "/services/T0000/B0000/not-a-real-secret-but-treat-it-as-one"


@dataclass
class Receiver:
    """What the webhook stand-in was sent; ``fail`` answers 503 to that many next requests."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    fail: int = 0

    def reset(self) -> None:
        with self.lock:
            self.accepted.clear()
            self.refused = 0
            self.fail = 0

    def texts(self) -> list[str]:
        with self.lock:
            return [str(body["text"]) for body in self.accepted]


def receiver_app(receiver: Receiver) -> FastAPI:
    app = FastAPI()

    @app.get("/ready")
    def ready() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.post(HOOK_PATH)
    async def hook(request: Request) -> PlainTextResponse:
        body = json.loads(await request.body())
        with receiver.lock:
            if receiver.fail:
                receiver.fail -= 1
                receiver.refused += 1
                return PlainTextResponse("down for maintenance", status_code=503)
            receiver.accepted.append(body)
        return PlainTextResponse("ok")  # what Slack answers

    return app


def serve_receiver(receiver: Receiver) -> ThreadedServer:
    config = uvicorn.Config(
        receiver_app(receiver),
        host="127.0.0.1",
        port=0,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=1,
    )
    return serve_in_thread(config, "127.0.0.1", 0, ready_path="/ready", name="webhook receiver")


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a page: lower case, punctuation other than
    ``-`` and ``_`` dropped, spaces to ``-``, and ``-1``, ``-2`` ... on repeats."""
    seen: dict[str, int] = {}
    anchors = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        heading = re.match(r"^#{1,6} (.+?)\s*#*$", line)
        if in_code or not heading:
            continue
        text = re.sub(r"`", "", heading.group(1)).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = seen.get(slug, 0)
        anchors.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return anchors


def runbook_anchors() -> set[str]:
    return github_anchors(RUNBOOK.read_text(encoding="utf-8"))


def _registered(prefix: str, n: int) -> dict[str, Any]:
    return {
        "id": f"{prefix}-{n}",
        "type": "return.registered",
        "occurredAt": "2026-11-02T09:00:00+00:00",
        "retailerCode": "CASTORE",
        "returnId": f"R-{prefix}-{n}",
        "dcWarehouse": "UK-DC1",
        "channelOrderRef": f"order-{prefix}-{n}",
        "lines": [{"lineId": "1", "sku": "CAS-123-BLK-M", "quantity": 1, "returnReasonId": 3}],
    }


def post_webhooks(rb: App, count: int, prefix: str = "evt") -> None:
    """POST ``count`` ZigZag events as signed webhooks (Standard Webhooks, signed by the
    library, with ``rb``'s secret) to the service serving ``rb`` over loopback; no worker runs,
    so each stays pending in the inbox. Every one must be accepted (202)."""
    secret = rb.settings.zigzag_webhook_secret.get_secret_value()
    running = start_service(rb)
    try:
        with httpx.Client(base_url=running.url, timeout=10) as client:
            for n in range(count):
                body = json.dumps(_registered(prefix, n))
                msg_id = f"msg_{prefix}_{n}"
                at = rb.clock()
                answer = client.post(
                    WEBHOOK_PATH,
                    content=body.encode("utf-8"),
                    headers={
                        "webhook-id": msg_id,
                        "webhook-timestamp": str(int(at.timestamp())),
                        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
                        "content-type": "application/json",
                    },
                )
                assert answer.status_code == 202, answer.text
    finally:
        running.stop()


def post_events(rb: App, count: int, prefix: str = "evt") -> None:
    """Put ``count`` ZigZag events in the inbox as a transport would, and process none."""
    records = []
    for n in range(count):
        event = _registered(prefix, n)
        records.append(
            InboxRecord(
                "zigzag", event["id"], event["type"], json.dumps(event), f"zz:{event['returnId']}"
            )
        )
    with rb.stores() as store:
        ingest(store, records, rb.clock())


class ScriptedVendor:
    """Amazon as the cycle sees it: down (every submission unsent), or up and answering each
    transaction with Success, or Failure for every inventory item when ``reject_inventory``."""

    def __init__(self, *, down: bool = False, reject_inventory: bool = False) -> None:
        self.down = down
        self.reject_inventory = reject_inventory
        self.transactions: dict[str, str] = {}

    def _submit(self, kind: str) -> str:
        if self.down:
            raise AmazonUnavailable("connection refused (scripted)")
        transaction_id = f"tx-{len(self.transactions) + 1}"
        self.transactions[transaction_id] = kind
        return transaction_id

    def submit_inventory(self, warehouse_id: str, positions: Sequence[InventoryPosition]) -> str:
        return self._submit("inventory")

    def submit_credit_notes(self, notes: Sequence[CreditNote]) -> str:
        return self._submit("credit_notes")

    def inventory_status(self, transaction_id: str) -> TransactionStatus:
        if self.reject_inventory:
            error = TransactionError("InvalidProduct", "unknown at this warehouse", "items[0]")
            return TransactionStatus(transaction_id, "Failure", (error,))
        return TransactionStatus(transaction_id, "Success")

    def credit_note_status(self, transaction_id: str) -> TransactionStatus:
        return TransactionStatus(transaction_id, "Success")
