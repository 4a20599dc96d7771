"""The dashboard: one server-rendered page for operations and finance, at ``/``.

A person signs in at ``/login`` by pasting their API token (``returnbridge tokens create``): the
same tokens, roles and checks as the API. The token is kept in an HttpOnly, SameSite=Strict
cookie (``Secure`` over HTTPS) and checked on every request, so revoking it ends the session at
once; it is never logged, never put in a URL and never shown again. Every form carries a token
derived from the session (``_form_token``) that a page of another site cannot know.

The page shows today's flow, the queues, what Amazon has not confirmed, Amazon's refusals, the
open exceptions, credit not cleared by age, the alerts firing, and charts
(``dashboard_page.py``). Beside each exception are the actions the signed-in role may take on
its code (``domain/auth.py``) and that its rules allow (``offered_actions``); a click records the
decision and its audit row exactly as ``POST /api/exceptions/{id}/resolve`` does (actor: the
token's name), applies it, and comes back to the page with what happened.

Everything the page needs is served here (``/static/``); the Content-Security-Policy lets the
browser fetch nothing from anywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, quote

import structlog
from fastapi import APIRouter, Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from returnbridge import __version__
from returnbridge.bootstrap import App
from returnbridge.domain.audit_log import ActorKind
from returnbridge.domain.auth import may_resolve
from returnbridge.domain.errors import ExceptionCode, ReturnBridgeError
from returnbridge.domain.schedule import CycleSchedule
from returnbridge.entrypoints.http.dashboard_page import page_context
from returnbridge.services.access import Principal, TokenRefusal, authenticate
from returnbridge.services.exceptions import (
    AMAZON_CODES,
    Action,
    Resolution,
    offered_actions,
    request_resolution,
)
from returnbridge.services.pipeline import Processor
from returnbridge.store.dashboard import dashboard_figures
from returnbridge.store.sql import SqlStore
from returnbridge.store.tokens import access_transaction

SESSION_COOKIE = "returnbridge_session"
FLASH_COOKIE = "returnbridge_flash"
SESSION_LIFETIME = timedelta(hours=12)  # a working day; sign in again after
FORM_LIMIT = 16_384  # bytes: a token, a note, a few fields
ROWS = 100  # open exceptions listed at once
ASSETS = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
HOW = {
    Action.REPROCESS: " (retry)",
    Action.WRITE_OFF: " (write off)",
    Action.IGNORE: "",
    Action.RELEASE: " (released: it goes to Amazon at the next clearing cycle)",
}
REFUSED = {
    TokenRefusal.INVALID: "That token is not one returnbridge issued. Check you copied all of "
    "it (it starts with rb_), or ask an admin for one.",
    TokenRefusal.REVOKED: "That token was revoked. Ask an admin for a new one.",
}

log = structlog.get_logger("returnbridge.http")


def _form_token(session: str) -> str:
    """The token every form of a session carries: derived from the session's secret, so only
    a page this service served to that browser can know it."""
    return hmac.new(session.encode(), b"returnbridge dashboard form", hashlib.sha256).hexdigest()


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, first value per field; empty when it is
    anything else or larger than ``FORM_LIMIT``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            return {}
    try:
        fields = parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20
        )
    except ValueError:
        return {}
    return {name: values[0] for name, values in fields.items()}


def _flash_value(kind: str, text: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"kind": kind, "text": text}).encode()).decode()


def _flash_of(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(raw.encode()))
        kind, text = str(found["kind"]), str(found["text"])
    except (ValueError, KeyError, TypeError):
        return None
    return {"kind": kind, "text": text} if kind in ("ok", "warn", "error") else None


def _cookie(response: Response, request: Request, name: str, value: str, seconds: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _see(request: Request, url: str, flash: tuple[str, str] | None = None) -> Response:
    """303 to ``url`` (a page of this service), with a message for the next page."""
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    if flash:
        _cookie(response, request, FLASH_COOKIE, _flash_value(*flash), 60)
    return response


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("returnbridge.entrypoints.http", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _code_filter(value: str | None) -> str | None:
    return value if value in set(ExceptionCode) else None


def dashboard_router(rb: App) -> APIRouter:
    """``/login``, ``/logout``, ``/`` (the dashboard), its one-click actions and its assets."""
    router = APIRouter(include_in_schema=False)
    env = _environment()
    static = files("returnbridge.entrypoints.http").joinpath("static")
    assets = {name: static.joinpath(name).read_bytes() for name in ASSETS}
    # A processor of its own (its own master-data cache), applying one decision at a time, as
    # the API does with its own.
    processor = rb.with_own_processor().processor
    applying = threading.Lock()

    def page(template: str, request: Request, status: int = 200, **context: Any) -> Response:
        html = env.get_template(template).render(
            version=__version__, flash=_flash_of(request), **context
        )
        response = HTMLResponse(html, status_code=status, headers=HEADERS)
        if FLASH_COOKIE in request.cookies:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def signed_in(request: Request) -> Principal | TokenRefusal | None:
        session = request.cookies.get(SESSION_COOKIE, "")
        if not session:
            return None
        with access_transaction(rb.engine) as store:
            return authenticate(store, session, rb.clock())

    def signed_out(request: Request, found: TokenRefusal | None) -> Response:
        response = _see(request, "/login", ("error", REFUSED[found]) if found else None)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def unavailable(request: Request, exc: ReturnBridgeError) -> Response:
        log.error("dashboard unavailable", code=exc.code, error=exc.message)
        message = "returnbridge cannot read its database just now. Try again in a minute."
        return page("problem.html.j2", request, 503, message=message)

    @router.get("/static/{name}")
    def asset(name: str) -> Response:
        if name not in assets:
            return Response(status_code=404)
        return Response(
            assets[name],
            media_type=ASSETS[name],
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    @router.get("/login")
    def login_page(request: Request) -> Response:
        try:
            found = signed_in(request)
        except ReturnBridgeError as exc:
            return unavailable(request, exc)
        if isinstance(found, Principal):
            return _see(request, "/")
        return page("login.html.j2", request, error=None)

    @router.post("/login")
    async def login(request: Request) -> Response:
        token = (await _form(request)).get("token", "").strip()
        if not token:
            return page("login.html.j2", request, 400, error="Paste your token to sign in.")
        try:
            found = await run_in_threadpool(_authenticate, rb, token)
        except ReturnBridgeError as exc:
            return unavailable(request, exc)
        if not isinstance(found, Principal):
            log.info("dashboard sign-in refused", code=found.value)
            return page("login.html.j2", request, 401, error=REFUSED[found])
        log.info("dashboard signed in", actor=found.name, role=found.role.value)
        response = _see(request, "/")
        seconds = int(SESSION_LIFETIME.total_seconds())
        _cookie(response, request, SESSION_COOKIE, token, seconds)
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        form = await _form(request)
        session = request.cookies.get(SESSION_COOKIE, "")
        if session and not hmac.compare_digest(form.get("csrf", ""), _form_token(session)):
            return _see(request, "/", ("error", "That page was out of date; try again."))
        response = _see(request, "/login", ("ok", "Signed out."))
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/")
    def dashboard(request: Request, code: str | None = None) -> Response:
        try:
            found = signed_in(request)
            if not isinstance(found, Principal):
                return signed_out(request, found)
            chosen = _code_filter(code)
            with rb.engine.connect() as conn:
                figures = dashboard_figures(conn, rb.clock(), code=chosen, limit=ROWS)
                store = SqlStore(conn)
                offered = {
                    r.id: offered_actions(store, r)
                    for r in figures.exceptions
                    if may_resolve(found.role, r.code)
                }
        except ReturnBridgeError as exc:
            return unavailable(request, exc)
        schedule = CycleSchedule.parse(rb.settings.amazon_cycle_schedule)
        context = page_context(
            figures,
            found,
            offered,
            runbook_url=rb.settings.alert_runbook_url,
            schedule=schedule.text,
            next_cycle=schedule.next_after(figures.now),
            code=chosen,
        )
        return page(
            "dashboard.html.j2",
            request,
            csrf=_form_token(request.cookies[SESSION_COOKIE]),
            **context,
        )

    @router.post("/exceptions/{exception_id}/resolve")
    async def resolve(request: Request, exception_id: int) -> Response:
        form = await _form(request)
        back = "/"
        if chosen := _code_filter(form.get("code")):
            back = f"/?code={quote(chosen)}"
        try:
            found = await run_in_threadpool(signed_in, request)
        except ReturnBridgeError as exc:
            return unavailable(request, exc)
        if not isinstance(found, Principal):
            return signed_out(request, found)
        session = request.cookies[SESSION_COOKIE]
        if not hmac.compare_digest(form.get("csrf", ""), _form_token(session)):
            return _see(request, back, ("error", "That page was out of date: nothing was done."))
        try:
            action = Action(form.get("action", ""))
        except ValueError:
            return _see(request, back, ("error", "Choose Retry, Write off or Ignore."))
        note = form.get("note", "").replace("\x00", "").strip()[:2_000]
        try:
            flash = await run_in_threadpool(
                _decide, rb, processor, applying, exception_id, found, action, note
            )
        except ReturnBridgeError as exc:
            return unavailable(request, exc)
        return _see(request, f"{back}#exceptions", flash)

    return router


def _authenticate(rb: App, token: str) -> Principal | TokenRefusal:
    with access_transaction(rb.engine) as store:
        return authenticate(store, token, rb.clock())


def _decide(
    rb: App,
    processor: Processor,
    applying: threading.Lock,
    exception_id: int,
    principal: Principal,
    action: Action,
    note: str,
) -> tuple[str, str]:
    """Record the decision (and its audit row) as the API does, apply it, and say how it
    ended: (kind, text) for the page."""
    with rb.stores() as store:
        record = store.exception(exception_id)
        if record is None:
            return "error", f"There is no exception {exception_id}."
        if not may_resolve(principal.role, record.code):
            return "error", f"Your role ({principal.role}) may not act on {record.code}."
        request = Resolution(action, principal.name, note, actor_kind=ActorKind.TOKEN)
        try:
            request_resolution(store, exception_id, request, rb.clock)
        except ReturnBridgeError as exc:
            if exc.code == "store.unavailable":
                raise
            return "error", f"Nothing was done: {exc.message}"
    log.info(
        "dashboard decision", exception_id=exception_id, action=action.value, actor=principal.name
    )
    with applying:
        processor.drain()
    with rb.stores() as store:
        after = store.exception(exception_id)
        assert after is not None
        still = (
            [
                r
                for r in store.list_exceptions("open", None, 100, after.case_key, after.line_id)
                if r.id != exception_id
            ]
            if after.line_id
            else []
        )
    what = f"Exception {exception_id} ({after.code})"
    if after.status == "open":
        return "warn", (
            f"{what} is still open: your decision is recorded, but the line still has this "
            "problem. Fix its cause (the catalog or the mappings), then retry."
        )
    done = f"{what} {after.status} by {principal.name}{HOW[action]}."
    if after.code in AMAZON_CODES and action is Action.REPROCESS:
        done += " It goes to Amazon again at the next clearing cycle."
    if still:
        listed = ", ".join(f"{r.code} ({r.id})" for r in still)
        return "warn", f"{done} The line still cannot flow: {listed} still open."
    return "ok", done


__all__ = ["SESSION_COOKIE", "dashboard_router"]
