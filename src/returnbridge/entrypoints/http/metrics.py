"""``GET /metrics``: Prometheus text format, behind a token of any role (Prometheus sends one
with ``authorization: {type: Bearer, credentials_file: ...}``).

Every figure is read from the database, so every process reports the same numbers and a restart
loses nothing. The queues and what the alert rules look at come from the rules' own read model
(``SqlAlertStore.alert_facts``), so the Prometheus rules of ``deploy/prometheus/alerts.yml`` see
what the built-in alerts see; what the clearing cycles' requests to Amazon cost comes from the
cycles' rows. Both are read on each scrape. Two reads grow with the history: the credit report
(every credit line) and the inbox's events by how they ended. They are read at most once per
``SLOW_SECONDS`` and kept in the collector in between. Labels of fixed lists (topics, codes,
statuses, outcomes, causes, age buckets) always carry every value, zeros included, so a series
does not vanish when its queue empties.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Permission
from returnbridge.domain.credits import ageing
from returnbridge.domain.errors import ExceptionCode
from returnbridge.entrypoints.alerting import thresholds
from returnbridge.entrypoints.http.auth import Guard
from returnbridge.entrypoints.http.inbox_writer import InboxWriter
from returnbridge.entrypoints.http.problems import AUTH_ANSWERS, refusing
from returnbridge.services.access import Principal
from returnbridge.services.alert_rules import AlertFacts, CreditAge, credit_ages
from returnbridge.store.alerts import alert_transaction
from returnbridge.store.gauges import AmazonTotals, amazon_totals, inbox_ended, queue_gauges

TOPICS = ("amazon.inventory", "amazon.credit_note", "erp.journal", "erp.stock")
SLOW_SECONDS = 60.0  # the credit report and the inbox's totals are read at most this often
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class _Slow:
    """The figures whose read grows with the history, as of ``read_at`` (monotonic)."""

    read_at: float
    credit_ages: tuple[CreditAge, ...]
    ageing: dict[str, dict[str, dict[str, int]]]  # currency -> cause -> age bucket -> minor
    inbox_ended: dict[str, int]  # status -> events


class MetricsCollector(Collector):
    """Reads the database when Prometheus scrapes; keeps only the slow figures in between."""

    def __init__(
        self,
        rb: App,
        slow_seconds: float = SLOW_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rb = rb
        limits = thresholds(rb.settings)
        self.rejection_window = limits.rejection_window
        self.sync_lag_limit = limits.sync_lag
        self.slow_seconds = slow_seconds
        self.timer = timer
        self._slow: _Slow | None = None
        self._lock = threading.Lock()  # one scrape reads the slow figures; the others wait

    def collect(self) -> Iterable[Metric]:
        now = self.rb.clock()
        with alert_transaction(self.rb.engine) as store:
            facts = store.alert_facts(now, self.rejection_window, credits=False)
            open_exceptions = queue_gauges(store.conn).open_exceptions
            amazon = amazon_totals(store.conn)
        slow = self._slow_figures(now)
        return [
            *_queues(facts, slow, now),
            *_exceptions(open_exceptions, facts),
            *_amazon(facts, amazon, now, self.sync_lag_limit.total_seconds()),
            *_credits(slow),
            _gauge(
                "returnbridge_erp_batches_undelivered",
                "ERP journal batches whose delivery was tried and failed.",
                facts.erp_undelivered,
            ),
        ]

    def _slow_figures(self, now: datetime) -> _Slow:
        with self._lock:
            slow = self._slow
            if slow is None or self.timer() - slow.read_at >= self.slow_seconds:
                with alert_transaction(self.rb.engine) as store:
                    rows = store.credit_rows()
                    ended = inbox_ended(store.conn)
                slow = _Slow(self.timer(), credit_ages(rows, now), ageing(rows, now), ended)
                self._slow = slow
            return slow


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def _queues(facts: AlertFacts, slow: _Slow, now: datetime) -> list[Metric]:
    ended = CounterMetricFamily(
        "returnbridge_inbox_events_total",
        "Inbox events that ended processed, invalid or failed (rate() of processed: events/s).",
        labels=["status"],
    )
    for status, count in slow.inbox_ended.items():
        ended.add_metric([status], count)
    depth = GaugeMetricFamily(
        "returnbridge_outbox_pending_messages",
        "Outbox messages waiting to be sent, per topic.",
        labels=["topic"],
    )
    age = GaugeMetricFamily(
        "returnbridge_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending outbox message of the topic (0 when none).",
        labels=["topic"],
    )
    outbox = {queue.queue: queue for queue in facts.outbox}
    for topic in sorted(set(TOPICS) | set(outbox)):
        queue = outbox.get(topic)
        depth.add_metric([topic], queue.depth if queue else 0)
        age.add_metric([topic], _age(now, queue.oldest) if queue and queue.depth else 0.0)
    return [
        _gauge(
            "returnbridge_inbox_pending_events",
            "Inbox events stored and not yet processed.",
            facts.inbox.depth,
        ),
        _gauge(
            "returnbridge_inbox_oldest_pending_age_seconds",
            "Age of the oldest pending inbox event (0 when none).",
            _age(now, facts.inbox.oldest) if facts.inbox.depth else 0.0,
        ),
        ended,
        depth,
        age,
    ]


def _exceptions(by_code: dict[str, int], facts: AlertFacts) -> list[Metric]:
    open_exceptions = GaugeMetricFamily(
        "returnbridge_exceptions_open", "Open exceptions, per code.", labels=["code"]
    )
    for code in sorted({c.value for c in ExceptionCode} | set(by_code)):
        open_exceptions.add_metric([code], by_code.get(code, 0))
    unmapped = GaugeMetricFamily(  # a series only while such an exception is open
        "returnbridge_unmapped_code_open",
        "Open unmapped-code exceptions, per exception code and code as received.",
        labels=["code", "value"],
    )
    for found in facts.unmapped:
        unmapped.add_metric([found.code, found.value], found.open)
    return [open_exceptions, unmapped]


def _amazon(
    facts: AlertFacts, totals: AmazonTotals, now: datetime, sync_lag_limit: float
) -> list[Metric]:
    answered = GaugeMetricFamily(
        "returnbridge_amazon_changes_answered",
        "Changes for Amazon it answered within the rejection window, per outcome.",
        labels=["outcome"],
    )
    answered.add_metric(["accepted"], facts.amazon_accepted)
    answered.add_metric(["rejected"], facts.amazon_rejected)
    counters = []
    for name, documentation, value in (
        (
            "requests",
            "Requests clearing cycles sent to Amazon (retries included).",
            totals.requests,
        ),
        ("retries", "Of those, retries.", totals.retries),
        ("throttled", "Answers 429 'too many requests' to clearing cycles.", totals.throttled),
        (
            "items_rejected",
            "Items Amazon rejected (stock updates, credit notes).",
            totals.items_rejected,
        ),
    ):
        counter = CounterMetricFamily(f"returnbridge_amazon_{name}_total", documentation)
        counter.add_metric([], value)
        counters.append(counter)
    unsent_age = _age(now, facts.amazon_unsent_since) if facts.amazon_unsent else 0.0
    return [
        answered,
        *counters,
        _gauge(
            "returnbridge_amazon_unsent_oldest_age_seconds",
            "Age of the oldest request prepared for Amazon and not sent (0 when none).",
            unsent_age,
        ),
        _gauge(
            "returnbridge_amazon_sync_lag_seconds",
            "Age of the oldest change for Amazon it has not confirmed (0 when none).",
            _age(now, facts.amazon_oldest_change),
        ),
        _gauge(
            "returnbridge_amazon_sync_lag_limit_seconds",
            "Longest gap between two cut-offs of the cycle schedule, plus the grace.",
            sync_lag_limit,
        ),
    ]


def _credits(slow: _Slow) -> list[Metric]:
    oldest = max((c.age_days for c in slow.credit_ages if c.lines), default=0)
    minor = GaugeMetricFamily(
        "returnbridge_credit_pending_minor",
        "Credit owed by Amazon not cleared yet, in minor units, per currency, cause and days "
        "since the goods came back.",
        labels=["currency", "cause", "bucket"],
    )
    for currency, causes in sorted(slow.ageing.items()):
        for cause, buckets in causes.items():
            for bucket, amount in buckets.items():
                minor.add_metric([currency, cause, bucket], amount)
    return [
        _gauge(
            "returnbridge_credit_pending_oldest_age_seconds",
            "Whole days (in seconds) since the goods came back, of the oldest return line with "
            "credit still pending (0 when none).",
            oldest * DAY_SECONDS,
        ),
        minor,
    ]


class WebhookCollector(Collector):
    """The webhook's backpressure, as this process counts it (not the database): refusals
    since the process started (a restart sets them back to 0, which ``rate()`` reads as a
    counter reset) and the configured limit."""

    def __init__(self, writer: InboxWriter) -> None:
        self.writer = writer

    def collect(self) -> Iterable[Metric]:
        refused = CounterMetricFamily(
            "returnbridge_webhook_inbox_full",
            "Webhook deliveries refused (500 inbox_full, not stored) because the inbox held "
            "its hard limit of pending events; counted by this process since it started.",
        )
        refused.add_metric([], self.writer.refused)
        return [
            refused,
            _gauge(
                "returnbridge_inbox_hard_limit_events",
                "Pending inbox events at which webhook deliveries are refused "
                "(RETURNBRIDGE_INBOX_HARD_LIMIT).",
                self.writer.hard_limit,
            ),
        ]


def metrics_router(rb: App, guard: Guard, collectors: Sequence[Collector] = ()) -> APIRouter:
    router = APIRouter(tags=["metrics"], responses=AUTH_ANSWERS)
    registry = CollectorRegistry(auto_describe=False)  # per app: nothing global, nothing at import
    registry.register(MetricsCollector(rb))
    for collector in collectors:
        registry.register(collector)
    reader = guard.require(Permission.READ_METRICS, "reading metrics")

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
        summary="Prometheus metrics",
    )
    def metrics(_: Principal = Depends(reader)) -> Response:
        with refusing():
            body = generate_latest(registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router
