"""Alerting: evaluate the rules, keep one stored alert per condition while it lasts, notify once.

Each evaluation, in one transaction, reads the facts, applies ``alert_rules`` and records the
result: a new condition is stored as firing, a condition still firing only has its last-seen
time and figures refreshed, and a stored alert whose condition is gone is resolved. A clearing
cycle's alerts (``alerts.cycle_alerts``) are recorded the same way under their own source, so
each cycle resolves what the previous cycle raised and it did not.

Notifications go out after that transaction commits, so a slow or dead webhook never holds up
(or rolls back) an evaluation. Each stored alert owes at most two notifications, firing and
resolved; what is owed stays owed in the table until it is delivered, and a failed delivery is
tried again at the next evaluation. A delivery is claimed first (a lease), so two evaluators
running at once never send the same notification twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.services.alert_rules import AlertFacts, AlertThresholds, evaluate
from returnbridge.services.alerts import Alert

Source = Literal["state", "cycle"]
NoticeKind = Literal["firing", "resolved"]
STATE: Source = "state"  # evaluated from the database by ``alert_rules``
CYCLE: Source = "cycle"  # raised by the last clearing cycle
CLAIM_LEASE = timedelta(minutes=5)  # longer than any delivery with its retries takes


class AlertNotDelivered(ReturnBridgeError):
    """The alert webhook did not take a notification; it stays owed and is tried again."""

    code = "alert.not_delivered"


@dataclass(frozen=True)
class StoredAlert:
    """One condition, from the first evaluation that found it to the one that found it gone."""

    id: int
    key: str
    name: str
    severity: str
    summary: str
    runbook: str
    source: str
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None = None
    seen_count: int = 1  # evaluations (or cycles) that found it firing
    notified_at: datetime | None = None  # the firing notification went out
    resolve_notified_at: datetime | None = None  # the resolution went out
    notified_via: str | None = None  # webhook | log
    notify_attempts: int = 0
    notify_error: str | None = None  # why the last delivery failed (never the webhook's URL)

    @property
    def firing(self) -> bool:
        return self.resolved_at is None

    @property
    def notice_owed(self) -> NoticeKind | None:
        """The notification this alert still owes: an alert resolved before its firing
        notification went out owes only the resolution (which says when it fired)."""
        if self.resolved_at is not None:
            return "resolved" if self.resolve_notified_at is None else None
        return "firing" if self.notified_at is None else None


@dataclass(frozen=True)
class AlertNotice:
    alert: StoredAlert
    kind: NoticeKind


@dataclass(frozen=True)
class Recorded:
    fired: list[StoredAlert] = field(default_factory=list)
    resolved: list[StoredAlert] = field(default_factory=list)
    firing: list[StoredAlert] = field(default_factory=list)  # every alert firing afterwards


class AlertStore(Protocol):
    """The store as alerting needs it (one transaction per unit of work)."""

    def alert_facts(self, now: datetime, rejection_window: timedelta) -> AlertFacts: ...

    def record_alerts(self, alerts: Sequence[Alert], source: Source, now: datetime) -> Recorded:
        """Insert the new conditions, refresh the ones still firing, resolve the alerts of
        ``source`` not in ``alerts``."""
        ...

    def list_alerts(self, include_resolved: bool = False, limit: int = 1_000) -> list[StoredAlert]:
        """Firing alerts by key; with ``include_resolved``, the newest ``limit`` of all."""
        ...

    def alerts_owing_notice(self, limit: int) -> list[StoredAlert]: ...

    def claim_notice(self, alert_id: int, now: datetime, lease: timedelta) -> StoredAlert | None:
        """Take the delivery of an owed notification for ``lease``; None if another evaluator
        holds it or nothing is owed any more."""
        ...

    def notice_delivered(
        self, alert_id: int, kind: NoticeKind, now: datetime, via: str
    ) -> None: ...

    def notice_failed(self, alert_id: int, error: str) -> None: ...


AlertStores = Callable[[], AbstractContextManager[AlertStore]]


class AlertNotifier(Protocol):
    """Where notifications go (a Slack-compatible webhook). Raises ``AlertNotDelivered``."""

    def notify(self, notice: AlertNotice) -> None: ...


@dataclass
class AlertRun:
    firing: list[StoredAlert] = field(default_factory=list)
    fired: list[StoredAlert] = field(default_factory=list)
    resolved: list[StoredAlert] = field(default_factory=list)
    delivered: int = 0
    owed: int = 0  # notifications left for the next evaluation
    error: str | None = None  # why delivery stopped


class Alerting:
    """The alert rules, their table and their notifications.

    ``notifier`` None means no webhook is configured: the log line written for each change
    (``on_change``) is the notification, and owed notices are settled as sent ``via`` the log.
    """

    def __init__(
        self,
        stores: AlertStores,
        thresholds: AlertThresholds,
        notifier: AlertNotifier | None = None,
        on_change: Callable[[Sequence[AlertNotice]], None] = lambda _: None,
        batch: int = 100,
    ) -> None:
        self.stores = stores
        self.thresholds = thresholds
        self.notifier = notifier
        self.on_change = on_change
        self.batch = batch

    def evaluate(self, now: datetime) -> AlertRun:
        """Evaluate every rule once, record the result, then deliver what is owed."""
        with self.stores() as store:
            facts = store.alert_facts(now, self.thresholds.rejection_window)
            recorded = store.record_alerts(evaluate(facts, self.thresholds, now), STATE, now)
        return self._after(recorded, now)

    def record_cycle(self, alerts: Sequence[Alert], now: datetime) -> AlertRun:
        """Record what a clearing cycle raised (and resolve what it no longer raises)."""
        with self.stores() as store:
            recorded = store.record_alerts(alerts, CYCLE, now)
        return self._after(recorded, now)

    def _after(self, recorded: Recorded, now: datetime) -> AlertRun:
        changes = [AlertNotice(a, "firing") for a in recorded.fired]
        changes += [AlertNotice(a, "resolved") for a in recorded.resolved]
        if changes:
            self.on_change(changes)
        run = AlertRun(recorded.firing, recorded.fired, recorded.resolved)
        self.deliver(now, run)
        if run.delivered:  # show the firing alerts as they stand now, notified
            with self.stores() as store:
                run.firing = store.list_alerts()
        return run

    def deliver(self, now: datetime, run: AlertRun | None = None) -> AlertRun:
        """Send the owed notifications, oldest first; the first failure stops the round (the
        webhook is likely down) and leaves the rest owed."""
        run = run or AlertRun()
        with self.stores() as store:
            owed = store.alerts_owing_notice(self.batch)
        for index, candidate in enumerate(owed):
            with self.stores() as store:
                alert = store.claim_notice(candidate.id, now, CLAIM_LEASE)
            kind = alert.notice_owed if alert else None
            if alert is None or kind is None:
                continue
            if self.notifier is None:
                with self.stores() as store:
                    store.notice_delivered(alert.id, kind, now, "log")
                run.delivered += 1
                continue
            try:
                self.notifier.notify(AlertNotice(alert, kind))
            except AlertNotDelivered as exc:
                with self.stores() as store:
                    store.notice_failed(alert.id, exc.message)
                run.owed = len(owed) - index
                run.error = exc.message
                return run
            with self.stores() as store:
                store.notice_delivered(alert.id, kind, now, "webhook")
            run.delivered += 1
        return run


__all__ = [
    "CYCLE",
    "STATE",
    "AlertNotDelivered",
    "AlertNotice",
    "AlertNotifier",
    "AlertRun",
    "AlertStore",
    "Alerting",
    "Recorded",
    "StoredAlert",
]
