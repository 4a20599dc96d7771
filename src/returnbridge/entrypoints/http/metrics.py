"""``GET /metrics``: Prometheus text format, behind a token of any role (Prometheus sends one
with ``authorization: {type: Bearer, credentials_file: ...}``).

The gauges are counted from the database on each scrape, so every process reports the same
numbers: inbox events pending, outbox messages pending per topic, open exceptions per code
(every known code, zeros included, so a series does not vanish when its queue empties).
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Permission
from returnbridge.domain.errors import ExceptionCode
from returnbridge.entrypoints.http.auth import Guard
from returnbridge.entrypoints.http.problems import AUTH_ANSWERS, refusing
from returnbridge.services.access import Principal
from returnbridge.store.gauges import queue_gauges
from returnbridge.store.sql import transaction

TOPICS = ("amazon.inventory", "amazon.credit_note", "erp.journal")


class QueueCollector(Collector):
    """Counts the queues when Prometheus scrapes (nothing is kept between scrapes)."""

    def __init__(self, rb: App) -> None:
        self.rb = rb

    def collect(self) -> Iterable[Metric]:
        with transaction(self.rb.engine) as store:
            gauges = queue_gauges(store.conn)
        inbox = GaugeMetricFamily(
            "returnbridge_inbox_pending_events", "Inbox events stored and not yet processed."
        )
        inbox.add_metric([], gauges.inbox_pending)
        outbox = GaugeMetricFamily(
            "returnbridge_outbox_pending_messages",
            "Outbox messages waiting to be sent, per topic.",
            labels=["topic"],
        )
        for topic in sorted(set(TOPICS) | set(gauges.outbox_pending)):
            outbox.add_metric([topic], gauges.outbox_pending.get(topic, 0))
        open_exceptions = GaugeMetricFamily(
            "returnbridge_exceptions_open", "Open exceptions, per code.", labels=["code"]
        )
        for code in sorted({c.value for c in ExceptionCode} | set(gauges.open_exceptions)):
            open_exceptions.add_metric([code], gauges.open_exceptions.get(code, 0))
        return [inbox, outbox, open_exceptions]


def metrics_router(rb: App, guard: Guard) -> APIRouter:
    router = APIRouter(tags=["metrics"], responses=AUTH_ANSWERS)
    registry = CollectorRegistry(auto_describe=False)  # per app: nothing global, nothing at import
    registry.register(QueueCollector(rb))
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
