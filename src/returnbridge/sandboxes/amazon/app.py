"""``create_app``: the HTTP face of the Amazon SP-API vendor sandbox.

Serves LWA's token endpoint, the four vendor operations at the paths their models declare, and
``/_sandbox/state`` / ``/_sandbox/reset`` for out-of-process inspection. Every vendor request
goes: fault injection (middleware) -> access token and role (403) -> usage plan (429) -> body
(415/400) -> handling. Query parameters are ignored (python-amazon-sp-api adds marketplace ids
to GETs) and so is ``Host`` (the library sends a mangled one for ``http://`` endpoints).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from returnbridge.sandboxes.amazon.catalog import (
    DF_STATUS,
    RETAIL_STATUS,
    SUBMIT_INVENTORY,
    SUBMIT_INVOICES,
    Operation,
)
from returnbridge.sandboxes.amazon.middleware import SandboxMiddleware
from returnbridge.sandboxes.amazon.state import AmazonSandbox
from returnbridge.sandboxes.amazon.validation import INVALID_INPUT, validate_request
from returnbridge.sandboxes.amazon.wire import (
    error_response,
    errors_response,
    quota_exceeded,
    unauthorized,
)

LWA_TOKEN_PATH = "/auth/o2/token"
Endpoint = Callable[[Request], Awaitable[Response]]


def _gate(sandbox: AmazonSandbox, request: Request, operation: Operation) -> Response | None:
    """403 without a valid token or without the operation's role, 429 over the usage plan;
    None lets the request through."""
    if not sandbox.token_valid(request.headers.get("x-amz-access-token")):
        return unauthorized()
    if operation.operation_id in sandbox.config.unauthorized_operations:
        return unauthorized()  # a valid token, for an app the vendor did not grant the role
    if not sandbox.try_take(operation):
        return quota_exceeded()
    return None


async def _read_body(
    request: Request, operation: Operation
) -> tuple[dict[str, Any], None] | tuple[None, Response]:
    """The JSON body if it is acceptable for ``operation``, else the error response."""
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type.lower():
        message = f"Content-Type {content_type!r} is not supported; send application/json."
        return None, error_response(415, "UnsupportedMediaType", message)
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        return None, error_response(400, INVALID_INPUT, "$ is not valid JSON", str(exc))
    if not isinstance(body, dict):
        return None, error_response(400, INVALID_INPUT, "$ must be a JSON object")
    errors = validate_request(operation, body)
    if errors:
        return None, errors_response(400, errors)
    return body, None


def _submit_route(sandbox: AmazonSandbox, operation: Operation) -> Endpoint:
    async def submit(request: Request) -> Response:
        denied = _gate(sandbox, request, operation)
        if denied is not None:
            return denied
        body, problem = await _read_body(request, operation)
        if problem is not None:
            return problem
        assert body is not None
        if operation.operation_id == SUBMIT_INVENTORY:
            transaction_id = sandbox.submit_inventory(request.path_params["warehouseId"], body)
        else:
            transaction_id = sandbox.submit_invoices(body)
        return JSONResponse({"payload": {"transactionId": transaction_id}}, status_code=202)

    return submit


def _status_route(sandbox: AmazonSandbox, operation: Operation) -> Endpoint:
    async def status(request: Request) -> Response:
        denied = _gate(sandbox, request, operation)
        if denied is not None:
            return denied
        transaction_id = request.path_params["transactionId"]
        transaction = sandbox.read_status(operation.operation_id, transaction_id)
        if transaction is None:
            message = f"Transaction '{transaction_id}' was not found."
            return error_response(404, "NotFound", message, f"operation {operation.operation_id}")
        return JSONResponse({"payload": {"transactionStatus": transaction}})

    return status


def create_app(sandbox: AmazonSandbox) -> FastAPI:
    """The ASGI app serving ``sandbox``; run it with uvicorn (see ``server.start_sandbox``)."""
    app = FastAPI(
        title="Amazon SP-API vendor sandbox (returnbridge)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(SandboxMiddleware, sandbox=sandbox)

    async def http_error(request: Request, exc: Exception) -> Response:
        # Unknown paths and methods answer in SP-API's errors[] shape, not FastAPI's "detail".
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, INVALID_INPUT)
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return error_response(exc.status_code, code, message)

    app.add_exception_handler(StarletteHTTPException, http_error)

    async def lwa_token(request: Request) -> Response:
        text = (await request.body()).decode("utf-8", "replace")
        form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
        status, body = sandbox.issue_token(form)
        if sandbox.config.hold_token_seconds:
            await asyncio.sleep(sandbox.config.hold_token_seconds)
        return JSONResponse(body, status_code=status)

    async def state(request: Request) -> Response:
        return JSONResponse(sandbox.snapshot())

    async def reset(request: Request) -> Response:
        # An optional JSON object of SandboxConfig knobs changes the behaviour from now on.
        try:
            knobs = json.loads(await request.body() or b"{}")
            config = replace(sandbox.config, **knobs)
        except (ValueError, TypeError) as exc:
            return error_response(400, INVALID_INPUT, f"$ is not a set of sandbox knobs: {exc}")
        sandbox.reset(config)
        return JSONResponse({"reset": True, "config": config.public_dict()})

    routes: list[tuple[str, Endpoint, str, str]] = [
        (LWA_TOKEN_PATH, lwa_token, "POST", "lwaToken"),
        ("/_sandbox/state", state, "GET", "sandboxState"),
        ("/_sandbox/reset", reset, "POST", "sandboxReset"),
    ]
    for operation_id in (SUBMIT_INVENTORY, SUBMIT_INVOICES):
        operation = sandbox.catalog[operation_id]
        routes.append((operation.path, _submit_route(sandbox, operation), "POST", operation_id))
    for operation_id in (DF_STATUS, RETAIL_STATUS):
        operation = sandbox.catalog[operation_id]
        routes.append((operation.path, _status_route(sandbox, operation), "GET", operation_id))
    for path, endpoint, method, name in routes:
        app.add_api_route(
            path,
            endpoint,
            methods=[method],
            name=name,
            response_model=None,
            include_in_schema=False,
        )
    return app
