"""ZigZag's webhook deliveries: each event POSTed to the retailer's endpoint, signed, retried.

Signed with the Standard Webhooks library itself (``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256>``), so the signature is the spec's, not our reading
of it. ``webhook-id`` is the event's own ``id``: a re-sent event carries the same one.

Retries follow ZigZag's published policy: a delivery that fails (no answer, or any answer but
2xx; a 400 too, ZigZag re-sends schema rejects) is retried daily for 7 days, until a success.
Every wait is multiplied by the config's ``time_scale`` so a week fits in seconds. Failures can
be injected on ZigZag's side: requests that never arrive, and answers lost after the target
handled the request (the target then sees the same ``webhook-id`` again).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from standardwebhooks import Webhook

from returnbridge.sandboxes.zigzag.config import ZigZagSandboxConfig
from returnbridge.sandboxes.zigzag.generator import feed_events, generate_day
from returnbridge.sandboxes.zigzag.transports import WebhookMessage, webhook_message

Outcome = Literal["pending", "delivered", "failed"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DeliveryRecord:
    """What happened to one delivery (one event of the day, duplicates apart)."""

    index: int
    msg_id: str
    attempts: int = 0
    """Attempts made, the first included."""
    reached: int = 0
    """Attempts the target actually received (more than 1: it saw this id again)."""
    statuses: list[int | None] = field(default_factory=list)
    """Per attempt, the answer ZigZag got (None: no answer)."""
    outcome: Outcome = "pending"
    last_error: str | None = None

    @property
    def status(self) -> int | None:
        """The last answer ZigZag got (None: none, or not tried yet)."""
        return self.statuses[-1] if self.statuses else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "msg_id": self.msg_id,
            "attempts": self.attempts,
            "reached": self.reached,
            "statuses": list(self.statuses),
            "status": self.status,
            "outcome": self.outcome,
            "last_error": self.last_error,
        }


@dataclass
class DeliveryReport:
    """Every delivery of a run; safe to read while the deliverer fills it in."""

    records: list[DeliveryRecord] = field(default_factory=list)
    rounds: int = 0
    """Rounds run: the first attempts, then one per retry day."""
    finished: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, outcome: Outcome) -> int:
        with self._lock:
            return sum(1 for r in self.records if r.outcome == outcome)

    @property
    def delivered(self) -> int:
        return self.count("delivered")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def attempts(self) -> int:
        with self._lock:
            return sum(r.attempts for r in self.records)

    def summary(self) -> dict[str, Any]:
        with self._lock:
            outcomes = [r.outcome for r in self.records]
            return {
                "messages": len(self.records),
                "delivered": outcomes.count("delivered"),
                "failed": outcomes.count("failed"),
                "pending": outcomes.count("pending"),
                "attempts": sum(r.attempts for r in self.records),
                "rounds": self.rounds,
                "finished": self.finished,
            }

    def as_dict(self) -> dict[str, Any]:
        summary = self.summary()
        with self._lock:
            summary["deliveries"] = [r.as_dict() for r in self.records]
        return summary


class WebhookDeliverer:
    """Delivers messages to ``config.webhook_url`` the way ZigZag does (see the module doc)."""

    def __init__(
        self,
        config: ZigZagSandboxConfig,
        client: httpx.Client | None = None,
        *,
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], object] = time.sleep,
        stop: threading.Event | None = None,
    ) -> None:
        if not config.webhook_url or not config.webhook_secret:
            raise ValueError("webhook deliveries need a webhook_url and a webhook_secret")
        self.config = config
        self.url = config.webhook_url
        self._signer = Webhook(config.webhook_secret)
        self._client = client or httpx.Client(timeout=config.delivery_timeout_seconds)
        self._owns_client = client is None
        self._now = now
        self._sleep = sleep
        self._stop = stop
        self._faults = random.Random(f"{config.seed}:deliveries")

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def headers(self, message: WebhookMessage, at: datetime) -> dict[str, str]:
        """The Standard Webhooks headers of ``message`` sent at ``at``."""
        return {
            "content-type": "application/json",
            "webhook-id": message.msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self._signer.sign(message.msg_id, at, message.body),
        }

    def attempt(
        self, message: WebhookMessage, record: DeliveryRecord, lock: threading.Lock
    ) -> None:
        """One attempt at ``message``; updates ``record``."""
        status: int | None = None
        error: str | None = None
        reached = False
        if self._faults.random() < self.config.lost_request_rate:
            error = "injected: the request never reached the target"
        else:
            try:
                answer = self._client.post(
                    self.url,
                    content=message.body.encode("utf-8"),
                    headers=self.headers(message, self._now()),
                )
            except httpx.HTTPError as exc:
                error = f"no answer: {exc!r}"
            else:
                reached = True
                status = answer.status_code
                if self._faults.random() < self.config.lost_answer_rate:
                    status, error = None, f"injected: the answer ({answer.status_code}) was lost"
                elif not 200 <= status < 300:
                    error = f"answered {status}: {answer.text[:200]}"
        with lock:
            record.attempts += 1
            record.reached += reached
            record.statuses.append(status)
            record.last_error = error
            if status is not None and 200 <= status < 300:
                record.outcome = "delivered"

    def deliver(
        self, messages: Sequence[WebhookMessage], report: DeliveryReport | None = None
    ) -> DeliveryReport:
        """Deliver every message, then retry the failed ones on the schedule; ``report`` (if
        given) is filled in as it goes, for a reader in another thread."""
        report = report if report is not None else DeliveryReport()
        with report._lock:
            report.records = [DeliveryRecord(i, m.msg_id) for i, m in enumerate(messages)]
        due = list(range(len(messages)))
        waits = iter(self.config.retry_schedule)
        while due and not self._stopped():
            for i in due:
                if self._stopped():
                    break
                self.attempt(messages[i], report.records[i], report._lock)
            with report._lock:
                report.rounds += 1
            due = [i for i in due if report.records[i].outcome != "delivered"]
            wait = next(waits, None)
            if not due or wait is None:
                break
            self._wait(wait * self.config.time_scale)
        with report._lock:
            for i in due:
                if report.records[i].attempts:
                    report.records[i].outcome = "failed"
            report.finished = True
        return report

    def _stopped(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _wait(self, seconds: float) -> None:
        if self._stop is not None:
            self._stop.wait(seconds)
        else:
            self._sleep(seconds)


def day_messages(config: ZigZagSandboxConfig) -> list[WebhookMessage]:
    """The webhooks of the config's day, in delivery order (see ``transports``)."""
    events = feed_events(generate_day(config.returns, config.seed))
    return [webhook_message(event, i) for i, event in enumerate(events)]


def deliver_day(
    config: ZigZagSandboxConfig,
    client: httpx.Client | None = None,
    *,
    sleep: Callable[[float], object] = time.sleep,
    report: DeliveryReport | None = None,
    now: Callable[[], datetime] = utc_now,
) -> DeliveryReport:
    """Deliver the config's whole day to ``config.webhook_url``, retries included, and return
    when every delivery succeeded or ran out of retries (the demo's one call). ``now``: the
    clock the signatures are stamped with (the receiver's, when it replays a past day)."""
    deliverer = WebhookDeliverer(config, client, sleep=sleep, now=now)
    try:
        return deliverer.deliver(day_messages(config), report)
    finally:
        deliverer.close()
