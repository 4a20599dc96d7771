"""``create_app``: the service's HTTP face. ZigZag's signed webhooks, the health checks
(``/healthz`` liveness, ``/readyz`` readiness: ``readiness.py``), and the operations API behind
bearer tokens (``api.py``: ``/api/...`` and ``/metrics``).

``POST /webhooks/zigzag`` takes one ZigZag event per request and answers only once the raw event
is committed to the inbox, before any processing (the worker applies it later):

- 202 ``accepted``: stored; the worker will apply it.
- 200 ``duplicate``: that event (or the same unreadable body) is already stored.
- 400 ``invalid_event``: signed, but breaks the event rules; kept raw, one INVALID_EVENT.
- 401 ``missing_signature``, ``bad_signature``, ``stale_timestamp``: not proven to come from
  ZigZag; nothing enters the inbox, the body is kept in ``webhook_rejections``.
- 413 ``payload_too_large``: over ``webhook_max_bytes``; kept there too, cut at the limit.
- 500 ``store_unavailable``: the inbox cannot be written now. A 500 rather than a 503, because
  ZigZag's published retry policy retries a 500 and does not list 503.
- 503 ``webhooks_not_configured``: no secret is set; the body is kept in ``webhook_rejections``.

Every error is ``{"code", "message"}`` with a stable ``code``. See docs/zigzag-events.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

from returnbridge import __version__
from returnbridge.bootstrap import App
from returnbridge.connectors.zigzag.json_schemas import any_event_schema
from returnbridge.connectors.zigzag.records import storable
from returnbridge.connectors.zigzag.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookRejected,
    WebhookVerifier,
    delivery_record,
)
from returnbridge.connectors.zigzag.wire import SOURCE
from returnbridge.domain.errors import StoreUnavailable
from returnbridge.entrypoints.http.api import install_api
from returnbridge.entrypoints.http.dashboard import dashboard_router
from returnbridge.entrypoints.http.readiness import ping_database, readiness_router
from returnbridge.services.pipeline import IngestResult, ingest
from returnbridge.services.ports import InboxRecord
from returnbridge.store.webhooks import Rejection, record_rejection

WEBHOOK_PATH = "/webhooks/zigzag"
DRAIN_FACTOR = 8  # an oversize body up to this many times the limit is read to its end
log = structlog.get_logger("returnbridge.http")


class Delivery(BaseModel):
    """The answer to a delivery that is now, or was already, in the inbox."""

    status: Literal["accepted", "duplicate"]
    id: str


class Problem(BaseModel):
    """Every error answer: a stable machine-readable ``code`` and a message for a person."""

    code: str
    message: str


def problem(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, **extra}, status_code=status, headers=headers
    )


@dataclass(frozen=True)
class _Body:
    data: bytes  # at most the limit
    size: int  # bytes received, or the declared length when larger
    over: bool

    @property
    def truncated(self) -> bool:
        return len(self.data) < self.size


def _declared_length(request: Request) -> int | None:
    try:
        return int(request.headers["content-length"])
    except (KeyError, ValueError):
        return None


async def _read_body(request: Request, limit: int) -> _Body:
    """The body, kept up to ``limit`` bytes.

    An oversize body is still read to its end (and dropped) up to ``DRAIN_FACTOR`` x ``limit``,
    so its sender reads the 413 rather than a reset connection; one declared (Content-Length)
    larger than that is read no further than the limit.
    """
    declared = _declared_length(request)
    huge = declared is not None and declared > limit * DRAIN_FACTOR
    drain = limit if huge else limit * DRAIN_FACTOR
    kept = bytearray()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
        if size > drain:
            break
    over = size > limit or (declared is not None and declared > limit)
    return _Body(bytes(kept), max(size, declared or 0), over)


def _ingest_once(rb: App, record: InboxRecord) -> IngestResult:
    with rb.stores() as store:
        return ingest(store, [record], rb.clock())


def _ingest(rb: App, record: InboxRecord) -> IngestResult:
    try:
        return _ingest_once(rb, record)
    except IntegrityError:
        # Two deliveries of one event raced (PostgreSQL): the other committed it first, so
        # this one is now a plain duplicate.
        return _ingest_once(rb, record)
    except PoolTimeout as exc:
        raise StoreUnavailable(f"no database connection free: {exc}") from exc


def _request_doc() -> dict[str, Any]:
    """The request as OpenAPI shows it: the three signature headers and one event as the body."""
    headers = [
        {
            "name": name,
            "in": "header",
            "required": True,
            "description": description,
            "schema": {"type": "string"},
        }
        for name, description in (
            (ID_HEADER, "The message id: the same on every retry of one delivery."),
            (TIMESTAMP_HEADER, "Unix seconds when this attempt was signed."),
            (SIGNATURE_HEADER, "Space-separated v1,<base64 HMAC-SHA256> signatures."),
        )
    ]
    body = {"required": True, "content": {"application/json": {"schema": any_event_schema()}}}
    return {"parameters": headers, "requestBody": body}


_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": Delivery, "description": "Already stored (a retry): nothing changes."},
    400: {"model": Problem, "description": "invalid_event: kept raw as an INVALID_EVENT."},
    401: {"model": Problem, "description": "missing_signature, bad_signature, stale_timestamp."},
    413: {"model": Problem, "description": "payload_too_large."},
    500: {"model": Problem, "description": "store_unavailable: send again later."},
    503: {"model": Problem, "description": "webhooks_not_configured."},
}


def create_app(rb: App) -> FastAPI:
    """The ASGI app over ``rb``; serve it with uvicorn (``server.start_service``, or ``serve``).

    Raises ``WebhookSecretsInvalid`` if the configured secrets cannot be read, so a service
    never starts with a secret it would silently fail to match.
    """
    settings = rb.settings
    verifier = WebhookVerifier.from_settings(
        settings.zigzag_webhook_secret.get_secret_value(), settings.webhook_tolerance_seconds
    )
    limit = settings.webhook_max_bytes
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

    async def reject(
        request: Request,
        body: _Body,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        """Answer ``status`` and keep the refused body in ``webhook_rejections``."""
        webhook_id = request.headers.get(ID_HEADER)
        rejection = Rejection(
            source=SOURCE,
            status=status,
            code=code,
            reason=message,
            size=body.size,
            truncated=body.truncated,
            body=storable(body.data.decode("utf-8", "backslashreplace")),
            webhook_id=webhook_id,
            client=request.client.host if request.client else None,
        )
        try:
            kept: int | None = await run_in_threadpool(
                record_rejection, rb.engine, rejection, rb.clock()
            )
        except (StoreUnavailable, SQLAlchemyError) as exc:
            kept = None
            log.error("webhook rejection not stored", code=code, error=str(exc))
        log.warning(
            "webhook rejected",
            status=status,
            code=code,
            reason=message,
            webhook_id=webhook_id,
            bytes=body.size,
            sha256=hashlib.sha256(body.data).hexdigest(),
            rejection_id=kept,
        )
        return problem(status, code, message, headers=headers)

    @app.post(
        WEBHOOK_PATH,
        status_code=202,
        response_model=Delivery,
        responses=_ANSWERS,
        openapi_extra=_request_doc(),
        summary="Receive one ZigZag event (Standard Webhooks signature)",
    )
    async def zigzag_webhook(request: Request) -> Response:
        try:
            body = await _read_body(request, limit)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read an answer
        if body.over:
            message = f"the body is {body.size} bytes; the limit is {limit}"
            close = {"Connection": "close"}
            return await reject(request, body, 413, "payload_too_large", message, close)
        if verifier is None:
            message = "set RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET to receive ZigZag webhooks"
            return await reject(request, body, 503, "webhooks_not_configured", message)
        try:
            webhook_id = verifier.verify(request.headers, body.data, rb.clock())
        except WebhookRejected as exc:
            return await reject(request, body, 401, exc.code, exc.message)
        record = delivery_record(body.data.decode("utf-8"), webhook_id)
        try:
            result = await run_in_threadpool(_ingest, rb, record)
        except StoreUnavailable as exc:
            log.error("webhook not stored", webhook_id=webhook_id, error=exc.message)
            # 500, not 503: ZigZag's published retry policy retries a 500 and does not list 503.
            message = "the inbox cannot be written now; send again later"
            return problem(500, "store_unavailable", message, headers={"Retry-After": "30"})
        if result.duplicates:
            log.info("webhook duplicate", webhook_id=webhook_id, event_id=record.event_id)
            return JSONResponse({"status": "duplicate", "id": record.event_id}, status_code=200)
        if result.invalid:
            log.warning("webhook event invalid", webhook_id=webhook_id, reason=result.problems)
            reason = result.problems[0]
            return problem(400, "invalid_event", reason, id=record.event_id)
        log.info("webhook accepted", webhook_id=webhook_id, event_id=record.event_id)
        return JSONResponse({"status": "accepted", "id": record.event_id}, status_code=202)

    @app.get("/healthz", summary="Liveness, with a database round trip")
    async def healthz() -> Response:
        try:
            await run_in_threadpool(ping_database, rb)
        except StoreUnavailable as exc:
            return problem(503, "store_unavailable", exc.message)
        state = "configured" if verifier is not None else "not_configured"
        return JSONResponse({"status": "ok", "webhooks": state})

    app.include_router(readiness_router(rb))
    install_api(app, rb)
    app.include_router(dashboard_router(rb))
    return app
