"""Alerts, wired: the rules' thresholds from the settings, the ``alerts`` table, the webhook.

``evaluate_alerts(rb)`` evaluates once (``alerts check``); ``run_alerts`` evaluates on the
``RETURNBRIDGE_ALERT_EVALUATE_SECONDS`` interval until asked to stop, for the service to run
in a thread beside its other loops; ``record_cycle_alerts`` stores what a clearing cycle raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

import httpx
import structlog

from returnbridge.bootstrap import App
from returnbridge.config import Settings
from returnbridge.connectors.slack import SlackWebhookNotifier
from returnbridge.domain.schedule import CycleSchedule
from returnbridge.observability.alerts import LogAlertSink
from returnbridge.services.alert_rules import AlertThresholds, sync_lag_limit
from returnbridge.services.alerting import Alerting, AlertNotice, AlertRun
from returnbridge.services.alerts import Alert
from returnbridge.store.alerts import alert_transaction


def thresholds(settings: Settings) -> AlertThresholds:
    """The rules' limits, from ``RETURNBRIDGE_ALERT_*`` (and the cycle schedule, for SYNC_LAG)."""
    return AlertThresholds(
        inbox_depth=settings.alert_inbox_depth_limit,
        inbox_age=timedelta(seconds=settings.alert_inbox_age_seconds),
        outbox_depth=settings.alert_outbox_depth_limit,
        outbox_age=timedelta(seconds=settings.alert_outbox_age_seconds),
        rejection_rate=settings.alert_rejection_rate,
        rejection_window=timedelta(hours=settings.alert_rejection_window_hours),
        pending_credit_days=settings.alert_pending_credit_days,
        sync_lag=sync_lag_limit(
            CycleSchedule.parse(settings.amazon_cycle_schedule),
            timedelta(seconds=settings.alert_sync_grace_seconds),
        ),
        unreachable_after=timedelta(seconds=settings.alert_unreachable_seconds),
    )


@contextmanager
def alerting(rb: App, *, log_fired: bool = True) -> Iterator[Alerting]:
    """The alerting use case over ``rb``'s database, posting to the configured webhook (if
    any) through a client of its own, closed on exit. Alerts that start or stop firing are
    logged (those that start only with ``log_fired``: a cycle logs its own)."""
    settings = rb.settings
    url = settings.alert_webhook_url.get_secret_value().strip()
    engine = rb.engine
    sink = LogAlertSink()

    def log(notices: Sequence[AlertNotice]) -> None:
        sink.changed([n for n in notices if log_fired or n.kind == "resolved"])

    if not url:
        yield Alerting(lambda: alert_transaction(engine), thresholds(settings), None, log)
        return
    with (
        httpx.Client(timeout=settings.alert_webhook_timeout_seconds) as client,
        SlackWebhookNotifier(url, client, runbook_url=settings.alert_runbook_url) as notifier,
    ):
        yield Alerting(lambda: alert_transaction(engine), thresholds(settings), notifier, log)


def evaluate_alerts(rb: App, now: datetime | None = None) -> AlertRun:
    """Evaluate every alert rule once, record the result, send what is owed."""
    with alerting(rb) as service:
        return service.evaluate(now or rb.clock())


def record_cycle_alerts(rb: App, alerts: Sequence[Alert], now: datetime | None = None) -> AlertRun:
    """Store a clearing cycle's alerts beside the evaluated ones (and resolve those of the
    previous cycle it did not raise again); AMAZON_UNREACHABLE is left to the rules, which see
    the unsent requests in the database as PARTNER_UNREACHABLE:amazon until they go."""
    kept = [a for a in alerts if a.name != "AMAZON_UNREACHABLE"]
    with alerting(rb, log_fired=False) as service:  # the cycle logged them (LogAlertSink.emit)
        return service.record_cycle(kept, now or rb.clock())


def run_alerts(
    rb: App,
    stop: threading.Event,
    on_run: Callable[[AlertRun], None] = lambda _: None,
    interval: float | None = None,
) -> int:
    """Evaluate every ``interval`` seconds (default: the setting) until ``stop`` is set; returns
    how many evaluations ran. A failed evaluation (the database away, say) is logged and the
    next one goes ahead on time: alerting outlives what it alerts about."""
    log = structlog.get_logger("returnbridge.alerts")
    every = interval if interval is not None else rb.settings.alert_evaluate_seconds
    runs = 0
    with alerting(rb) as service:
        while not stop.is_set():
            try:
                on_run(service.evaluate(rb.clock()))
                runs += 1
            except Exception as exc:  # the loop must go on; the log says what went wrong
                log.error("alert_evaluation_failed", error=f"{type(exc).__name__}: {exc}")
            stop.wait(every)
    return runs


__all__ = ["evaluate_alerts", "record_cycle_alerts", "run_alerts", "thresholds"]
