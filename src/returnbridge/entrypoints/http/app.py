"""``create_app``: the service's HTTP face. ZigZag's signed webhooks (``webhook.py``), the health
checks (``/healthz`` liveness, ``/readyz`` readiness: ``readiness.py``), and the operations API
behind bearer tokens (``api.py``: ``/api/...`` and ``/metrics``).

Every error is ``{"code", "message"}`` with a stable ``code``.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from returnbridge import __version__
from returnbridge.bootstrap import App
from returnbridge.connectors.zigzag.webhooks import WebhookVerifier
from returnbridge.domain.errors import StoreUnavailable
from returnbridge.entrypoints.http.api import install_api
from returnbridge.entrypoints.http.dashboard import dashboard_router
from returnbridge.entrypoints.http.inbox_writer import InboxWriter
from returnbridge.entrypoints.http.metrics import WebhookCollector
from returnbridge.entrypoints.http.readiness import ping_database, readiness_router
from returnbridge.entrypoints.http.webhook import (
    ANSWERS,
    WEBHOOK_PATH,
    Delivery,
    Receive,
    Scope,
    Send,
    WebhookEndpoint,
    problem,
    request_doc,
)

log = structlog.get_logger("returnbridge.http")


class ServiceApp:
    """The service's ASGI app: a POST to the webhook goes straight to ``webhook`` (its hot path
    skips FastAPI's middleware and routing); everything else, the OpenAPI document included, is
    ``fastapi``'s."""

    def __init__(self, fastapi: FastAPI, webhook: WebhookEndpoint) -> None:
        self.fastapi = fastapi
        self.webhook = webhook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == WEBHOOK_PATH and scope["method"] == "POST":
            await self.webhook(scope, receive, send)
        else:
            await self.fastapi(scope, receive, send)


def create_app(rb: App) -> ServiceApp:
    """The ASGI app over ``rb``; serve it with uvicorn (``server.start_service``, or ``serve``).

    Raises ``WebhookSecretsInvalid`` if the configured secrets cannot be read, so a service
    never starts with a secret it would silently fail to match.
    """
    settings = rb.settings
    verifier = WebhookVerifier.from_settings(
        settings.zigzag_webhook_secret.get_secret_value(), settings.webhook_tolerance_seconds
    )
    writer = InboxWriter(rb.engine, rb.clock, settings.inbox_hard_limit)
    webhook = WebhookEndpoint(rb, verifier, writer)
    app = FastAPI(
        title="returnbridge",
        version=__version__,
        description="Receives ZigZag's signed webhook events into returnbridge's inbox, and "
        "serves returns with their timeline, the exception queue, clearing cycles, credits, "
        "claims, reports and metrics to holders of an API token.",
        docs_url=None,
        redoc_url=None,
    )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return problem(exc.status_code, code, message, headers=exc.headers)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        return problem(400, "invalid_request", f"{request.method} {request.url.path}: {exc}")

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("request failed", path=request.url.path, error=repr(exc))
        return problem(500, "internal_error", "returnbridge failed; the error is logged")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, internal_error)

    @app.post(
        WEBHOOK_PATH,
        status_code=202,
        response_model=Delivery,
        responses=ANSWERS,
        openapi_extra=request_doc(),
        summary="Receive one ZigZag event (Standard Webhooks signature)",
    )
    async def zigzag_webhook(request: Request) -> Response:
        client = request.client.host if request.client else None
        return await webhook.answer(request.headers, request.receive, client)

    @app.get("/healthz", summary="Liveness, with a database round trip")
    async def healthz() -> Response:
        try:
            await run_in_threadpool(ping_database, rb)
        except StoreUnavailable as exc:
            return problem(503, "store_unavailable", exc.message)
        state = "configured" if verifier is not None else "not_configured"
        return JSONResponse({"status": "ok", "webhooks": state})

    app.include_router(readiness_router(rb))
    install_api(app, rb, [WebhookCollector(writer)])
    app.include_router(dashboard_router(rb))
    return ServiceApp(app, webhook)
