"""The operations API: bearer-token routes under ``/api/``, and ``/metrics``.

``install_api`` adds them to the service's app; ``/healthz`` and the signed ZigZag webhook stay
outside it, without a token. Roles and what each may do: domain/auth.py.
"""

from __future__ import annotations

from fastapi import FastAPI

from returnbridge.bootstrap import App
from returnbridge.entrypoints.http.api_exceptions import exceptions_router
from returnbridge.entrypoints.http.auth import Guard
from returnbridge.entrypoints.http.metrics import metrics_router
from returnbridge.entrypoints.http.problems import ApiRefusal, answer_refusal


def install_api(app: FastAPI, rb: App) -> None:
    guard = Guard(rb)
    app.add_exception_handler(ApiRefusal, answer_refusal)
    app.include_router(exceptions_router(rb, guard))
    app.include_router(metrics_router(rb, guard))
