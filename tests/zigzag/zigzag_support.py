"""Helpers shared by the ZigZag feed tests: reading the inbox back, a webhook target."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.connectors.zigzag.polling import ZigZagFeedClient
from returnbridge.sandboxes.zigzag import RunningSandbox
from returnbridge.store.tables import exceptions, feed_cursors, inbox

StartZigZag = Callable[..., RunningSandbox]
"""Resets the session's sandbox to a config with the given knobs and returns it."""
MakeApp = Callable[[str], App]
MakeClient = Callable[..., ZigZagFeedClient]


def inbox_rows(rb: App) -> list[dict[str, Any]]:
    """The inbox in arrival order: what each transport must leave the same."""
    columns = (
        inbox.c.source,
        inbox.c.event_id,
        inbox.c.event_type,
        inbox.c.case_key,
        inbox.c.payload,
        inbox.c.status,
        inbox.c.duplicates,
    )
    with rb.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(*columns).order_by(inbox.c.id))]


def exception_codes(rb: App) -> list[str]:
    with rb.engine.connect() as conn:
        return list(conn.execute(select(exceptions.c.code).order_by(exceptions.c.id)).scalars())


def stored_cursor(rb: App, feed: str) -> str | None:
    with rb.engine.connect() as conn:
        return conn.execute(
            select(feed_cursors.c.cursor).where(feed_cursors.c.feed == feed)
        ).scalar_one_or_none()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookTarget:
    """A retailer endpoint: answers the n-th delivery of each ``webhook-id`` with
    ``statuses[n]`` (the last one after that), and records every request."""

    url: str = ""
    statuses: list[int] = field(default_factory=lambda: [202])
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, received: Received) -> int:
        with self.lock:
            msg_id = received.headers.get("webhook-id")
            seen = sum(1 for r in self.received if r.headers.get("webhook-id") == msg_id)
            self.received.append(received)
            return self.statuses[min(seen, len(self.statuses) - 1)]


@contextmanager
def webhook_target(*statuses: int) -> Iterator[WebhookTarget]:
    """A plain HTTP server on loopback standing in for the retailer's webhook endpoint."""
    target = WebhookTarget(statuses=list(statuses) or [202])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = target.record(Received(headers, body))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    target.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/zigzag"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
