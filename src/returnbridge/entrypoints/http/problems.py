"""How the API refuses: one exception type, answered as ``{"code", "message", ...}``.

returnbridge's own errors keep their stable ``code`` on the wire; ``STATUS_OF`` is the one
mapping from that code to the HTTP status.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog
from fastapi import Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse, Response

from returnbridge.domain.errors import (
    ExceptionActionRefused,
    NotFound,
    ReturnBridgeError,
    StoreUnavailable,
    TokenRefused,
)

log = structlog.get_logger("returnbridge.http")

STATUS_OF: Mapping[str, int] = {
    NotFound.code: 404,
    ExceptionActionRefused.code: 409,  # the exception's state or its rules refuse the action
    TokenRefused.code: 409,
    StoreUnavailable.code: 503,
}


class ApiRefusal(Exception):
    """Raised anywhere in a request to answer ``status`` with a stable ``code``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra


def refusal_of(exc: ReturnBridgeError) -> ApiRefusal:
    status = STATUS_OF.get(exc.code, 500)
    if status >= 500:
        log.error("api request failed", code=exc.code, error=exc.message)
    headers = {"Retry-After": "30"} if status == 503 else None
    return ApiRefusal(status, exc.code, exc.message, headers)


async def answer_refusal(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiRefusal)
    return JSONResponse(
        {"code": exc.code, "message": exc.message, **exc.extra},
        status_code=exc.status,
        headers=exc.headers,
    )


@contextmanager
def refusing() -> Iterator[None]:
    """Turn returnbridge's own errors raised in the block into their API answer."""
    try:
        yield
    except ReturnBridgeError as exc:
        raise refusal_of(exc) from exc


class Refusal(BaseModel):
    """Every API refusal: a stable machine-readable ``code`` and a message for a person."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


AUTH_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": Refusal, "description": "missing_token, invalid_token, revoked_token."},
    403: {"model": Refusal, "description": "forbidden: the token's role may not do this."},
    503: {"model": Refusal, "description": "store.unavailable: try again later."},
}
