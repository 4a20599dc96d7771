"""``GET /readyz``: can the service do all its work now? No token needed.

It answers 200 when the database answers and every partner returnbridge is configured to talk
to answers HTTP within ``PARTNER_TIMEOUT_SECONDS``: ZigZag's API (``RETURNBRIDGE_ZIGZAG_API_URL``),
Amazon's SP-API endpoint (once Amazon's credentials are set) and the ERP endpoint
(``RETURNBRIDGE_ERP_ENDPOINT_URL``). Any HTTP answer below 500 counts as reachable (a partner's
base URL may well answer 401 or 404 to a bare GET). Otherwise it answers 503
``{"code": "not_ready", "message", "checks"}``, naming each check that failed.

The partners' answers are kept for ``PARTNER_CACHE_SECONDS``, so frequent probes (one per pod,
every few seconds) do not become traffic to the partners; the database is asked every time.
``/healthz`` stays the liveness check: a partner being down is no reason to restart the service.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import structlog
from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from returnbridge.bootstrap import App
from returnbridge.domain.errors import StoreUnavailable

PARTNER_TIMEOUT_SECONDS = 2.0
PARTNER_CACHE_SECONDS = 5.0
OK = "ok"
log = structlog.get_logger("returnbridge.http")


def ping_database(rb: App) -> None:
    """A round trip to the database; ``StoreUnavailable`` if it does not answer."""
    try:
        with rb.engine.connect() as conn:
            conn.execute(text("select 1"))
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"the database did not answer: {exc}") from exc


@dataclass(frozen=True)
class Partner:
    name: str  # zigzag | amazon | erp
    url: str


def configured_partners(rb: App) -> list[Partner]:
    s = rb.settings
    found = []
    if s.zigzag_api_url:
        found.append(Partner("zigzag", s.zigzag_api_url))
    if not rb.amazon_missing():
        found.append(Partner("amazon", rb.amazon_hosts().endpoint))
    if s.erp_endpoint_url:
        found.append(Partner("erp", s.erp_endpoint_url))
    return found


def probe(url: str, timeout: float = PARTNER_TIMEOUT_SECONDS) -> str:
    """``OK``, or why ``url`` is not reachable (never the URL: it may carry credentials)."""
    try:
        answer = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.TimeoutException:
        return f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    if answer.status_code >= 500:
        return f"answered HTTP {answer.status_code}"
    return OK


class PartnerChecks:
    """The partners' reachability, checked at once and kept for ``ttl`` seconds; concurrent
    probes wait for the one check in flight instead of starting their own."""

    def __init__(
        self,
        partners: list[Partner],
        check: Callable[[str], str] = probe,
        ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.partners = partners
        self.check = check
        self.ttl = PARTNER_CACHE_SECONDS if ttl is None else ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._results: dict[str, str] = {}
        self._checked_at: float | None = None

    def results(self) -> dict[str, str]:
        if not self.partners:
            return {}
        with self._lock:
            now = self.clock()
            if self._checked_at is None or now - self._checked_at >= self.ttl:
                with ThreadPoolExecutor(len(self.partners)) as pool:
                    answers = pool.map(self.check, [p.url for p in self.partners])
                    self._results = dict(zip((p.name for p in self.partners), answers, strict=True))
                self._checked_at = self.clock()
            return dict(self._results)


class Ready(BaseModel):
    status: str = Field(description="ready")
    checks: dict[str, str] = Field(description="database and each configured partner: ok.")


class NotReady(BaseModel):
    code: str = Field(description="not_ready")
    message: str
    checks: dict[str, str] = Field(description="Each check: ok, or why it failed.")


def readiness_router(rb: App) -> APIRouter:
    router = APIRouter(tags=["health"])
    partners = PartnerChecks(configured_partners(rb))

    def checks() -> dict[str, str]:
        try:
            ping_database(rb)
            found = {"database": OK}
        except StoreUnavailable as exc:
            log.error("readiness: database", error=exc.message)
            found = {"database": "did not answer"}  # the detail is logged, not shown unasked
        return {**found, **partners.results()}

    @router.get(
        "/readyz",
        response_model=Ready,
        responses={503: {"model": NotReady, "description": "not_ready: the failed checks."}},
        summary="Readiness: the database and every configured partner answer",
    )
    async def readyz() -> JSONResponse:
        found = await run_in_threadpool(checks)
        failed = {name: why for name, why in found.items() if why != OK}
        if failed:
            message = "not ready: " + "; ".join(f"{name}: {why}" for name, why in failed.items())
            return JSONResponse(
                {"code": "not_ready", "message": message, "checks": found},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        return JSONResponse({"status": "ready", "checks": found})

    return router


__all__ = ["PartnerChecks", "configured_partners", "ping_database", "probe", "readiness_router"]
