"""``create_app``: the HTTP face of the ZigZag sandbox.

- ``POST /token``: API username and password (JSON or form) to a JWT valid 30 minutes, as
  ZigZag publishes; wrong credentials are 401.
- ``GET /events?cursor=&limit=``: the polling feed (our shape: ZigZag publishes none), bearer
  token required; 401 without a live one, so a client renews and asks again.
- ``GET /_sandbox/state``: what was asked and delivered, for tests and demos (no token: it is
  the sandbox's own window, not ZigZag's API).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from returnbridge.sandboxes.zigzag.state import CursorInvalid, ZigZagSandbox

TOKEN_PATH = "/token"
EVENTS_PATH = "/events"
STATE_PATH = "/_sandbox/state"


def error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def unavailable() -> JSONResponse:
    return error(503, "unavailable", "injected fault: try again later", **{"retry-after": "1"})


async def _credentials(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if "json" in request.headers.get("content-type", "").lower():
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    form = parse_qs(raw.decode("utf-8", "replace"))
    return {key: values[0] for key, values in form.items()}


def create_app(sandbox: ZigZagSandbox) -> FastAPI:
    app = FastAPI(title="ZigZag sandbox", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post(TOKEN_PATH)
    async def token(request: Request) -> Response:
        if sandbox.inject_error():
            return unavailable()
        body = await _credentials(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            return error(400, "bad_request", "send username and password (JSON or form)")
        issued = sandbox.issue_token(username, password)
        if issued is None:
            return error(401, "unauthorized", "wrong API username or password")
        return JSONResponse(
            {
                "token": issued,
                "token_type": "Bearer",
                "expires_in": sandbox.config.token_ttl_seconds,
            }
        )

    @app.get(EVENTS_PATH)
    async def events(request: Request) -> Response:
        if sandbox.inject_error():
            return unavailable()
        problem = sandbox.check_token(request.headers.get("authorization"))
        if problem is not None:
            return error(
                401, "unauthorized", problem, **{"www-authenticate": 'Bearer error="invalid_token"'}
            )
        config = sandbox.config
        cursor = request.query_params.get("cursor") or None
        raw_limit = request.query_params.get("limit")
        if raw_limit is None:
            limit = config.default_page_size
        elif raw_limit.isdigit() and int(raw_limit) >= 1:
            limit = min(int(raw_limit), config.max_page_size)
        else:
            return error(
                400, "bad_request", f"limit must be a whole number >= 1, got {raw_limit!r}"
            )
        try:
            page, next_cursor = sandbox.page(cursor, limit)
        except CursorInvalid as exc:
            return error(400, "cursor_invalid", str(exc))
        return JSONResponse({"events": page, "next_cursor": next_cursor})

    @app.get(STATE_PATH)
    async def state() -> Response:
        return JSONResponse(sandbox.state())

    return app
