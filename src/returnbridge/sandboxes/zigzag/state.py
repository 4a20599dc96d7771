"""``ZigZagSandbox``: the sandbox's state, what its HTTP face and its deliverer act on.

Holds the generated day as the JSON transports deliver it, issues and checks JWTs (HS256, on
the config's clock, so tests move time), pages the feed with opaque cursors, and records what
was asked and delivered for ``GET /_sandbox/state``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import random
import threading
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from returnbridge.sandboxes.zigzag.config import ZigZagSandboxConfig
from returnbridge.sandboxes.zigzag.generator import DemoDay, feed_events, generate_day
from returnbridge.sandboxes.zigzag.transports import webhook_message
from returnbridge.sandboxes.zigzag.webhooks import DeliveryReport, WebhookDeliverer

CURSOR_PREFIX = "zz1:"


class CursorInvalid(ValueError):
    """A cursor this feed never handed out."""


@dataclass
class Counters:
    tokens_issued: int = 0
    tokens_refused: int = 0
    unauthorized: int = 0
    """API requests refused 401 (no token, a bad one, an expired one)."""
    feed_requests: int = 0
    events_served: int = 0
    injected_errors: int = 0


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CursorInvalid(f"cursor {cursor!r} was not issued by this feed") from exc
    if not text.startswith(CURSOR_PREFIX) or not text[len(CURSOR_PREFIX) :].isdigit():
        raise CursorInvalid(f"cursor {cursor!r} was not issued by this feed")
    offset = int(text[len(CURSOR_PREFIX) :])
    if offset > size:
        raise CursorInvalid(f"cursor {cursor!r} points past the end of the feed")
    return offset


class ZigZagSandbox:
    """Thread-safe: uvicorn's handlers and a delivery thread share it."""

    config: ZigZagSandboxConfig
    day: DemoDay
    feed: list[dict[str, Any]]
    """The day as the JSON transports deliver it (``generator.feed_events``)."""
    counters: Counters
    delivery: DeliveryReport | None
    """The latest webhook run (None before the first)."""

    def __init__(self, config: ZigZagSandboxConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.reset(config or ZigZagSandboxConfig())

    def reset(self, config: ZigZagSandboxConfig | None = None) -> None:
        """Start again: a new day (from ``config``, else the current one), no tokens, no runs."""
        config = config or self.config
        day = generate_day(config.returns, config.seed)
        with self._lock:
            self.config = config
            self.day = day
            self.feed = feed_events(day)
            self.counters = Counters()
            self.delivery = None
            self._faults = random.Random(f"{config.seed}:api")

    # ------------------------------------------------------------------ auth
    def issue_token(self, username: str, password: str) -> str | None:
        """A JWT valid ``token_ttl_seconds``, or None for wrong credentials."""
        config = self.config
        good = hmac.compare_digest(
            username.encode(), config.username.encode()
        ) & hmac.compare_digest(password.encode(), config.password.encode())
        with self._lock:
            if not good:
                self.counters.tokens_refused += 1
                return None
            self.counters.tokens_issued += 1
            serial = self.counters.tokens_issued
        now = int(config.clock())
        claims = {
            "sub": username,
            "iat": now,
            "exp": now + config.token_ttl_seconds,
            "jti": f"zz-token-{serial}",
        }
        return jwt.encode(claims, config.jwt_key, algorithm="HS256")

    def check_token(self, authorization: str | None) -> str | None:
        """None if the ``Authorization`` header carries a live token, else why not."""
        problem = self._token_problem(authorization)
        if problem is not None:
            with self._lock:
                self.counters.unauthorized += 1
        return problem

    def _token_problem(self, authorization: str | None) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "send Authorization: Bearer <token from POST /token>"
        try:
            claims = jwt.decode(
                token.strip(),
                self.config.jwt_key,
                algorithms=["HS256"],
                # Expiry is checked on the sandbox's own clock below, so tests can move time.
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError as exc:
            return f"the token is not valid: {exc}"
        exp = claims.get("exp")
        if not isinstance(exp, int) or self.config.clock() >= exp:
            return "the token has expired: get a new one from POST /token"
        return None

    # ------------------------------------------------------------------ feed
    def inject_error(self) -> bool:
        """Whether this API request gets an injected 503."""
        with self._lock:
            hit = self._faults.random() < self.config.api_error_rate
            self.counters.injected_errors += hit
            return hit

    def page(self, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str]:
        """Up to ``limit`` events after ``cursor`` (None: the start), and the next cursor. At the
        end the page is empty and the cursor is the one asked with."""
        with self._lock:
            size = len(self.feed)
            start = 0 if cursor is None else decode_cursor(cursor, size)
            events = self.feed[start : start + limit]
            self.counters.feed_requests += 1
            self.counters.events_served += len(events)
        next_cursor = encode_cursor(start + len(events)) if events or cursor is None else cursor
        return events, next_cursor

    # ------------------------------------------------------------- webhooks
    def deliver(
        self, client: httpx.Client | None = None, stop: threading.Event | None = None
    ) -> DeliveryReport:
        """Deliver the day to the configured webhook URL (retries included) and return the
        report, which ``state()`` also shows while it runs."""
        report = DeliveryReport()
        with self._lock:
            self.delivery = report
            messages = [webhook_message(event, i) for i, event in enumerate(self.feed)]
        deliverer = WebhookDeliverer(self.config, client, stop=stop)
        try:
            return deliverer.deliver(messages, report)
        finally:
            deliverer.close()

    # ----------------------------------------------------------------- state
    def state(self) -> dict[str, Any]:
        with self._lock:
            config = self.config
            counters = dict(self.counters.__dict__)
            delivery = self.delivery
            body: dict[str, Any] = {
                "seed": config.seed,
                "returns": config.returns,
                "feed_events": len(self.feed),
                "bad_events": len(self.day.bad_rows),
                "distinct_event_ids": len({e.get("id") for e in self.feed}),
                "token_ttl_seconds": config.token_ttl_seconds,
                "webhook_url": config.webhook_url,
                "counters": counters,
            }
        body["webhooks"] = delivery.as_dict() if delivery is not None else None
        return body
