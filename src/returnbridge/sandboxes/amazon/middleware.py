"""The outermost ASGI layer: response headers, status counts and fault injection.

Faults are decided per vendor request before any handling, and never for ``/_sandbox/*`` or
the LWA token endpoint (LWA is another service at another host on the real system).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from returnbridge.sandboxes.amazon.catalog import operation_for
from returnbridge.sandboxes.amazon.state import AmazonSandbox
from returnbridge.sandboxes.amazon.wire import error_response, quota_exceeded

SERVER_ERRORS = {
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}


class ConnectionDropped(Exception):
    """Raised after the response head is sent, so the server cuts the connection mid-response."""


class SandboxMiddleware:
    """Adds ``x-amzn-RequestId`` (always) and ``x-amzn-RateLimit-Limit`` (on the statuses the
    model declares it for), counts statuses per operation, and injects faults."""

    def __init__(self, app: ASGIApp, sandbox: AmazonSandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sandbox = self.sandbox
        request_id = sandbox.new_request_id()
        operation = operation_for(scope["method"], scope["path"])

        async def send_with_headers(message: Message) -> None:
            config = sandbox.config
            held = operation is not None and (
                not config.hold_operations or operation.operation_id in config.hold_operations
            )
            if message["type"] == "http.response.start" and held and config.hold_response_seconds:
                await asyncio.sleep(config.hold_response_seconds)
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-amzn-RequestId", request_id.encode()))
                if operation is not None:
                    sandbox.record_status(operation, status)
                    if status in operation.rate_limit_statuses:
                        limit = sandbox.rate_limit_header(operation)
                        headers.append((b"x-amzn-RateLimit-Limit", limit.encode()))
                message = {**message, "headers": headers}
            await send(message)

        if operation is None:
            await self.app(scope, receive, send_with_headers)
            return
        fault = sandbox.draw_fault(operation)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.kind == "error":
            code, text = SERVER_ERRORS[fault.status]
            await error_response(fault.status, code, text)(scope, receive, send_with_headers)
            return
        if fault.kind == "storm":
            await quota_exceeded()(scope, receive, send_with_headers)
            return
        if fault.kind == "drop":
            await self.app(scope, receive, _cut_after_head(send_with_headers))
            return
        await self.app(scope, receive, send_with_headers)


def _cut_after_head(send: Send) -> Send:
    """A ``send`` that passes the response head, then raises instead of sending the body.

    The request has been handled in full by then (the state changed); uvicorn, seeing the app
    fail after the response started, closes the connection, so the client reads a head that
    promises a body and then EOF: a protocol error, not a clean 5xx.
    """

    async def cutting(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise ConnectionDropped("sandbox drop: connection cut before the response body")
        await send(message)

    return cutting
