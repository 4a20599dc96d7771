"""The operations API: bearer-token routes under ``/api/``, and ``/metrics``.

``install_api`` adds them to the service's app; ``/healthz``, ``/readyz`` and the signed ZigZag
webhook stay outside it, without a token. Roles and what each may do: domain/auth.py (every role
reads everything here).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from prometheus_client.registry import Collector

from returnbridge.bootstrap import App
from returnbridge.entrypoints.http.api_cycles import cycles_router
from returnbridge.entrypoints.http.api_exceptions import exceptions_router
from returnbridge.entrypoints.http.api_finance import finance_router
from returnbridge.entrypoints.http.api_reports import reports_router
from returnbridge.entrypoints.http.api_returns import returns_router
from returnbridge.entrypoints.http.auth import Guard
from returnbridge.entrypoints.http.metrics import metrics_router
from returnbridge.entrypoints.http.problems import ApiRefusal, answer_refusal


def install_api(app: FastAPI, rb: App, collectors: Sequence[Collector] = ()) -> None:
    """The API's routes on ``app``; ``collectors`` add the app's own figures to ``/metrics``."""
    guard = Guard(rb)
    app.add_exception_handler(ApiRefusal, answer_refusal)
    for router in (
        returns_router(rb, guard),
        exceptions_router(rb, guard),
        cycles_router(rb, guard),
        finance_router(rb, guard),
        reports_router(rb, guard),
        metrics_router(rb, guard, collectors),
    ):
        app.include_router(router)
