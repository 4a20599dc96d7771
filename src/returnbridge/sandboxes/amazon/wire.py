"""The error bodies SP-API and LWA answer with, built in one place."""

from __future__ import annotations

from starlette.responses import JSONResponse

ApiError = dict[str, str]
"""One SP-API ``Error``: ``code`` and ``message`` required, ``details`` optional (always sent)."""

ACCESS_DENIED = "Access to requested resource is denied."
QUOTA_EXCEEDED = "You exceeded your quota for the requested resource."


def api_error(code: str, message: str, details: str = "") -> ApiError:
    """An ``Error`` object of the vendor models."""
    return {"code": code, "message": message, "details": details}


def errors_response(status: int, errors: list[ApiError]) -> JSONResponse:
    """``{"errors": [...]}`` with ``status``, the shape every vendor model uses for failures."""
    return JSONResponse({"errors": errors}, status_code=status)


def error_response(status: int, code: str, message: str, details: str = "") -> JSONResponse:
    """A failure with a single error."""
    return errors_response(status, [api_error(code, message, details)])


def unauthorized() -> JSONResponse:
    """403 for a missing, unknown or expired ``x-amz-access-token``."""
    return error_response(403, "Unauthorized", ACCESS_DENIED)


def quota_exceeded() -> JSONResponse:
    """429 for a request over the operation's usage plan."""
    return error_response(429, "QuotaExceeded", QUOTA_EXCEEDED)
