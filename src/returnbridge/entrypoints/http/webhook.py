"""``POST /webhooks/zigzag``: one ZigZag event per request, answered only once the raw event is
committed to the inbox, before any processing (the worker applies it later):

- 202 ``accepted``: stored; the worker will apply it.
- 200 ``duplicate``: that event (or the same unreadable body) is already stored.
- 400 ``invalid_event``: signed, but breaks the event rules; kept raw, one INVALID_EVENT.
- 401 ``missing_signature``, ``bad_signature``, ``stale_timestamp``: not proven to come from
  ZigZag; nothing enters the inbox, the body is kept in ``webhook_rejections``.
- 413 ``payload_too_large``: over ``webhook_max_bytes``; kept there too, cut at the limit.
- 500 ``inbox_full``: ``inbox_hard_limit`` events are pending (backpressure); nothing is
  stored, ``Retry-After`` says when to send it again.
- 500 ``store_unavailable``: the inbox cannot be written now.
- 503 ``webhooks_not_configured``: no secret is set; the body is kept in ``webhook_rejections``.

The two refusals for now are 500, not 503 or 429, because ZigZag's published retry policy
retries a 500 and lists neither of those: a 503 could lose the event. Every error is
``{"code", "message"}`` with a stable ``code``. See docs/zigzag-events.md.

The endpoint is a plain ASGI app (``WebhookEndpoint``) that the service's app hands the POSTs to
before FastAPI's middleware and routing, which cost about as much CPU as the webhook itself; the
same endpoint is also registered as a FastAPI route, for the OpenAPI document and any request
that reaches FastAPI. Events are stored by the ``InboxWriter`` (group commit, hard limit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response

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
from returnbridge.entrypoints.http.inbox_writer import InboxFull, InboxWriter
from returnbridge.store.webhooks import Rejection, record_rejection

WEBHOOK_PATH = "/webhooks/zigzag"
DRAIN_FACTOR = 8  # an oversize body up to this many times the limit is read to its end
log = structlog.get_logger("returnbridge.http")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


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


def _declared_length(headers: Mapping[str, str]) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None


async def _read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> _Body:
    """The body, kept up to ``limit`` bytes; raises ``ClientDisconnect`` if the client left.

    An oversize body is still read to its end (and dropped) up to ``DRAIN_FACTOR`` x ``limit``,
    so its sender reads the 413 rather than a reset connection; one declared (Content-Length)
    larger than that is read no further than the limit.
    """
    declared = _declared_length(headers)
    huge = declared is not None and declared > limit * DRAIN_FACTOR
    drain = limit if huge else limit * DRAIN_FACTOR
    kept = bytearray()
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        size += len(chunk)
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
        if size > drain:
            break
    over = size > limit or (declared is not None and declared > limit)
    return _Body(bytes(kept), max(size, declared or 0), over)


def headers_of(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name; of a repeated header, the first (as
    Starlette's ``Headers.get``)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


def request_doc() -> dict[str, Any]:
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


ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": Delivery, "description": "Already stored (a retry): nothing changes."},
    400: {"model": Problem, "description": "invalid_event: kept raw as an INVALID_EVENT."},
    401: {"model": Problem, "description": "missing_signature, bad_signature, stale_timestamp."},
    413: {"model": Problem, "description": "payload_too_large."},
    500: {
        "model": Problem,
        "description": "inbox_full (backpressure) or store_unavailable: nothing stored, send "
        "it again after Retry-After.",
    },
    503: {"model": Problem, "description": "webhooks_not_configured."},
}


class WebhookEndpoint:
    """``POST /webhooks/zigzag`` over ``rb``, as a plain ASGI app."""

    def __init__(self, rb: App, verifier: WebhookVerifier | None, writer: InboxWriter) -> None:
        self.rb = rb
        self.verifier = verifier
        self.writer = writer
        self.limit = rb.settings.webhook_max_bytes
        self.retry_later = {"Retry-After": str(rb.settings.inbox_retry_after_seconds)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        try:
            answer = await self.answer(headers_of(scope), receive, client[0] if client else None)
        except Exception as exc:  # as the app's own handler answers any other route
            log.error("request failed", path=WEBHOOK_PATH, error=repr(exc))
            answer = problem(500, "internal_error", "returnbridge failed; the error is logged")
        await answer(scope, receive, send)

    async def answer(
        self, headers: Mapping[str, str], receive: Receive, client: str | None
    ) -> Response:
        """The answer to one delivery, once its event is committed (or refused)."""
        try:
            body = await _read_body(receive, headers, self.limit)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read an answer
        if body.over:
            message = f"the body is {body.size} bytes; the limit is {self.limit}"
            close = {"Connection": "close"}
            return await self._reject(
                headers, client, body, 413, "payload_too_large", message, close
            )
        if self.verifier is None:
            message = "set RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET to receive ZigZag webhooks"
            return await self._reject(
                headers, client, body, 503, "webhooks_not_configured", message
            )
        try:
            webhook_id = self.verifier.verify(headers, body.data, self.rb.clock())
        except WebhookRejected as exc:
            return await self._reject(headers, client, body, 401, exc.code, exc.message)
        record = delivery_record(body.data.decode("utf-8"), webhook_id)
        try:
            outcome = await self.writer.store(record)
        except InboxFull as exc:
            log.info("webhook refused: inbox full", webhook_id=webhook_id)
            return problem(500, InboxFull.code, exc.message, headers=self.retry_later)
        except StoreUnavailable as exc:
            log.error("webhook not stored", webhook_id=webhook_id, error=exc.message)
            message = "the inbox cannot be written now; send again later"
            return problem(500, "store_unavailable", message, headers={"Retry-After": "30"})
        if outcome == "duplicate":
            log.info("webhook duplicate", webhook_id=webhook_id, event_id=record.event_id)
            return JSONResponse({"status": "duplicate", "id": record.event_id}, status_code=200)
        if outcome == "invalid":
            reason = record.invalid_reason or ""
            log.warning("webhook event invalid", webhook_id=webhook_id, reason=[reason])
            return problem(400, "invalid_event", reason, id=record.event_id)
        log.info("webhook accepted", webhook_id=webhook_id, event_id=record.event_id)
        return JSONResponse({"status": "accepted", "id": record.event_id}, status_code=202)

    async def _reject(
        self,
        headers: Mapping[str, str],
        client: str | None,
        body: _Body,
        status: int,
        code: str,
        message: str,
        extra: dict[str, str] | None = None,
    ) -> Response:
        """Answer ``status`` and keep the refused body in ``webhook_rejections``."""
        webhook_id = headers.get(ID_HEADER)
        rejection = Rejection(
            source=SOURCE,
            status=status,
            code=code,
            reason=message,
            size=body.size,
            truncated=body.truncated,
            body=storable(body.data.decode("utf-8", "backslashreplace")),
            webhook_id=webhook_id,
            client=client,
        )
        try:
            kept: int | None = await run_in_threadpool(
                record_rejection, self.rb.engine, rejection, self.rb.clock()
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
        return problem(status, code, message, headers=extra)
