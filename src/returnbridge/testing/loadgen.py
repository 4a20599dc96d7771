"""A load generator for ``POST /webhooks/zigzag``: signed ZigZag deliveries, posted over loopback
to a running ``returnbridge serve``, then checked against its database.

The events are a seeded day of the ZigZag sandbox's generator (``sandboxes/zigzag``), as its
webhooks carry them (``transports.webhook_message``): late, early, duplicated, with the day's
bad events, or (``unique``) each distinct event once. Each attempt is signed afresh with the
Standard Webhooks library, as the sandbox's deliverer signs (``webhook-id`` is the event's id).

A run is bounded in count (``count`` deliveries, ``max_attempts`` each) and in time
(``seconds``), and refuses any address that is not loopback. A delivery refused for now (429,
500, 502, 503, or no answer) is sent again after the answer's ``Retry-After`` (else after
``RETRY_SECONDS``), so backpressure loses nothing; a 2xx or another 4xx ends it. Afterwards
``check_inbox`` looks up, by event id, every event the service said it holds (202 accepted, 200
duplicate, 400 kept as invalid): each must be in the inbox exactly once, and none may have been
accepted (202) twice.

The client is a small HTTP/1.1 keep-alive client on asyncio streams, one per connection: a
general client (httpx) costs about a millisecond of CPU per request, which on a 2-core machine
would make the load generator, not the service, the bottleneck.
"""

from __future__ import annotations

import asyncio
import heapq
import ipaddress
import json
import socket
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, func, select
from standardwebhooks.webhooks import Webhook

from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.sandboxes.zigzag.generator import feed_events, generate_day
from returnbridge.sandboxes.zigzag.transports import WebhookMessage, webhook_message
from returnbridge.store.tables import inbox

WEBHOOK_PATH = "/webhooks/zigzag"
RETRYABLE = frozenset({408, 429, 500, 502, 503})  # refused for now: send again later
RETRY_SECONDS = 0.5  # wait before a retry when the answer names none (or there was no answer)
EVENTS_PER_RETURN = 4  # a generated return carries four to five events
SOURCE = "zigzag"


class LoadgenRefused(ReturnBridgeError):
    """The load generator will not run as asked (a target that is not loopback, ...)."""

    code = "loadgen.refused"


@dataclass(frozen=True)
class LoadPlan:
    """What to send, where, and the bounds of the run."""

    url: str  # the service's base URL: http, loopback only
    secret: str  # a whsec_<base64> secret the service accepts
    count: int  # deliveries (first attempts)
    connections: int = 16
    seconds: float = 60.0  # the whole run, retries included, ends by then
    seed: int = 7
    unique: bool = False  # each distinct event once (every first attempt should be a 202)
    max_attempts: int = 100  # per delivery
    timeout: float = 30.0  # per request


@dataclass
class Delivery:
    """One message and what became of it."""

    message: WebhookMessage
    attempts: int = 0
    status: int | None = None  # the last answer (None: none yet)
    stored_id: str | None = None  # the inbox event id the service answered with (2xx, 400)
    done: bool = False


@dataclass
class LoadReport:
    """What a run saw. ``latencies`` are per answered attempt, in seconds."""

    plan: LoadPlan
    deliveries: list[Delivery]
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)  # every attempt's answer
    errors: Counter[str] = field(default_factory=Counter)  # attempts without an answer
    latencies: list[float] = field(default_factory=list)
    retries: int = 0
    check: InboxCheck | None = None

    @property
    def attempts(self) -> int:
        return sum(d.attempts for d in self.deliveries)

    @property
    def accepted(self) -> int:
        return self.statuses[202]

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds > 0 else 0.0

    @property
    def unfinished(self) -> int:
        """Deliveries still refused (or unanswered) when the run ended."""
        return sum(1 for d in self.deliveries if not d.done)

    def outcomes(self) -> Counter[str]:
        """Per delivery, its final answer (``unfinished`` where it had none that ends it)."""
        return Counter(str(d.status) if d.done else "unfinished" for d in self.deliveries)

    def percentile_ms(self, pct: float) -> float:
        return round(percentile(self.latencies, pct) * 1000, 2) if self.latencies else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.plan.url,
            "deliveries": len(self.deliveries),
            "connections": self.plan.connections,
            "unique": self.plan.unique,
            "seed": self.plan.seed,
            "seconds": round(self.seconds, 3),
            "attempts": self.attempts,
            "retries": self.retries,
            "accepted": self.accepted,
            "accepted_per_second": round(self.accepted_per_second, 1),
            "latency_ms": {f"p{p}": self.percentile_ms(p) for p in (50, 95, 99)},
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(sorted(self.errors.items())),
            "outcomes": dict(sorted(self.outcomes().items())),
            "unfinished": self.unfinished,
            "check": None if self.check is None else self.check.as_dict(),
        }


@dataclass(frozen=True)
class InboxCheck:
    """Every event the service said it holds, looked up in its inbox by event id."""

    checked: int  # distinct event ids answered 202, 200 or 400
    stored_once: int
    missing: tuple[str, ...]  # answered as stored, not in the inbox
    doubled: tuple[str, ...]  # in the inbox more than once
    accepted_twice: tuple[str, ...]  # answered 202 more than once
    inbox_rows: int  # rows of the source in the inbox, all told

    @property
    def ok(self) -> bool:
        return not (self.missing or self.doubled or self.accepted_twice)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "stored_once": self.stored_once,
            "missing": list(self.missing[:20]),
            "doubled": list(self.doubled[:20]),
            "accepted_twice": list(self.accepted_twice[:20]),
            "inbox_rows": self.inbox_rows,
        }


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def loopback_target(url: str) -> tuple[str, int]:
    """``(host, port)`` of ``url``, refused unless it is plain HTTP to a loopback address."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise LoadgenRefused(f"{url!r}: give an http:// URL of the service on this machine")
    host = parts.hostname
    port = parts.port or 80
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except OSError as exc:
        raise LoadgenRefused(f"{url!r}: {host} cannot be resolved ({exc})") from exc
    addresses = [ipaddress.ip_address(str(a).split("%")[0]) for a in found]
    if not addresses or not all(a.is_loopback for a in addresses):
        raise LoadgenRefused(
            f"{url!r}: {host} is not a loopback address; the load generator only sends to "
            "this machine (127.0.0.0/8, ::1, localhost)"
        )
    return host, port


def messages(count: int, seed: int, *, unique: bool = False) -> list[WebhookMessage]:
    """``count`` webhook messages of a seeded day (the day grows until it has enough); with
    ``unique``, each distinct readable event once, without the day's bad events."""
    returns = max(1, count // EVENTS_PER_RETURN)
    while True:
        day = generate_day(returns, seed)
        if unique:
            firsts: dict[str, dict[str, Any]] = {}
            for event in day.events:
                firsts.setdefault(event["id"], event)
            events = list(firsts.values())
        else:
            events = feed_events(day)
        if len(events) >= count:
            return [webhook_message(event, n) for n, event in enumerate(events[:count])]
        returns *= 2


class _Connection:
    """One keep-alive HTTP/1.1 connection; POSTs one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        lines = [f"POST {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        answer: dict[str, str] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name:
                answer[name.strip().lower()] = value.strip()
        if answer.get("transfer-encoding", "").lower() == "chunked":
            data = await self._chunked(reader)
        else:
            data = await reader.readexactly(int(answer.get("content-length", "0")))
        if answer.get("connection", "").lower() == "close":
            self.close()
        return status, answer, data

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        data = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            data += chunk[:size]
            if size == 0:
                return bytes(data)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _retry_after(headers: dict[str, str]) -> float:
    try:
        return max(0.0, float(headers["retry-after"]))
    except (KeyError, ValueError):
        return RETRY_SECONDS


class _Run:
    """The deliveries of one run, shared by its connections."""

    def __init__(self, plan: LoadPlan, deliveries: list[Delivery], host: str, port: int) -> None:
        self.plan = plan
        self.deliveries = deliveries
        self.host = host
        self.port = port
        self.fresh = list(range(len(deliveries) - 1, -1, -1))  # popped from the end: in order
        self.later: list[tuple[float, int]] = []  # (due, index), a heap
        self.busy = 0  # deliveries in flight
        self.signer = Webhook(plan.secret)
        self.deadline = 0.0
        self.report = LoadReport(plan, deliveries, 0.0)

    def _next(self, now: float) -> int | float | None:
        """The index of a delivery to send now, the time to wait for one, or None: finished."""
        if self.fresh:
            return self.fresh.pop()
        if self.later and self.later[0][0] <= now:
            return heapq.heappop(self.later)[1]
        if self.later:
            return float(self.later[0][0] - now)
        return 0.05 if self.busy else None

    async def connection(self) -> None:
        conn = _Connection(self.host, self.port)
        try:
            while (now := time.monotonic()) < self.deadline:
                got = self._next(now)
                if got is None:
                    return
                if isinstance(got, float):
                    await asyncio.sleep(min(got, max(0.0, self.deadline - now)))
                    continue
                self.busy += 1
                try:
                    await self._attempt(conn, got)
                finally:
                    self.busy -= 1
        finally:
            conn.close()

    async def _attempt(self, conn: _Connection, index: int) -> None:
        delivery = self.deliveries[index]
        message = delivery.message
        at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": message.msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self.signer.sign(message.msg_id, at, message.body),
        }
        body = message.body.encode("utf-8")
        delivery.attempts += 1
        started = time.monotonic()
        timeout = max(0.1, min(self.plan.timeout, self.deadline - started))
        try:
            status, answer, data = await asyncio.wait_for(
                conn.post(WEBHOOK_PATH, headers, body), timeout
            )
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            conn.close()
            self.report.errors[type(exc).__name__] += 1
            self._again(index, RETRY_SECONDS)
            return
        except TimeoutError:
            conn.close()
            self.report.errors["timeout"] += 1
            self._again(index, RETRY_SECONDS)
            return
        self.report.latencies.append(time.monotonic() - started)
        self.report.statuses[status] += 1
        delivery.status = status
        if status in RETRYABLE:
            self._again(index, _retry_after(answer))
            return
        delivery.done = True
        if status in (200, 202, 400):
            try:
                stored = json.loads(data).get("id")
            except (ValueError, AttributeError):
                stored = None
            delivery.stored_id = stored if isinstance(stored, str) else None

    def _again(self, index: int, wait: float) -> None:
        delivery = self.deliveries[index]
        due = time.monotonic() + wait
        if delivery.attempts >= self.plan.max_attempts or due >= self.deadline:
            return  # given up: the delivery stays unfinished
        self.report.retries += 1
        heapq.heappush(self.later, (due, index))

    async def run(self) -> LoadReport:
        started = time.monotonic()
        self.deadline = started + self.plan.seconds
        await asyncio.gather(*(self.connection() for _ in range(self.plan.connections)))
        self.report.seconds = time.monotonic() - started
        return self.report


def run_load(plan: LoadPlan, prepared: Sequence[WebhookMessage] | None = None) -> LoadReport:
    """Send ``plan``'s deliveries (or ``prepared`` ones) and report; refuses a non-loopback
    target before sending anything."""
    if plan.count < 1 or plan.connections < 1 or plan.seconds <= 0:
        raise LoadgenRefused("count, connections and seconds must be positive")
    host, port = loopback_target(plan.url)
    chosen = (
        list(prepared)
        if prepared is not None
        else messages(plan.count, plan.seed, unique=plan.unique)
    )
    deliveries = [Delivery(m) for m in chosen[: plan.count]]
    return asyncio.run(_Run(plan, deliveries, host, port).run())


def check_inbox(engine: Engine, deliveries: Iterable[Delivery]) -> InboxCheck:
    """Look every event the service said it holds up in its inbox, by event id."""
    answered: Counter[str] = Counter()
    accepted: Counter[str] = Counter()
    for delivery in deliveries:
        if delivery.stored_id is not None:
            answered[delivery.stored_id] += 1
            if delivery.status == 202:
                accepted[delivery.stored_id] += 1
    ids = sorted(answered)
    found: dict[str, int] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            rows = conn.execute(
                select(inbox.c.event_id, func.count())
                .where(inbox.c.source == SOURCE, inbox.c.event_id.in_(ids[start : start + 500]))
                .group_by(inbox.c.event_id)
            )
            found.update({str(event_id): int(n) for event_id, n in rows})
        total = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.source == SOURCE)
        ).scalar_one()
    return InboxCheck(
        checked=len(ids),
        stored_once=sum(1 for i in ids if found.get(i) == 1),
        missing=tuple(i for i in ids if i not in found),
        doubled=tuple(i for i in ids if found.get(i, 0) > 1),
        accepted_twice=tuple(i for i, n in accepted.items() if n > 1),
        inbox_rows=int(total),
    )


__all__ = [
    "InboxCheck",
    "LoadPlan",
    "LoadReport",
    "LoadgenRefused",
    "check_inbox",
    "loopback_target",
    "messages",
    "run_load",
]
