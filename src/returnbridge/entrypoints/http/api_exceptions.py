"""The exception queue over HTTP: list, read, resolve one, retry one, resolve many
(``/api/exceptions``).

Reading needs a token of any role. Resolving follows who owns the exception's code
(domain/auth.py): ops the stock side, finance the money side, admin both, viewer none. A
decision is recorded with its audit row (actor: the token's name) in one transaction, then
applied at once by processing the inbox up to it, as ``returnbridge exceptions resolve`` does;
the answer is the exception as it ends, with the open exceptions still holding its line.

Bulk resolution is all or nothing: the token's role is checked against every exception
(403 ``forbidden``, naming each), then every decision is recorded in one transaction, or none
is (409 ``bulk_refused``, listing each refused item with its own code and message).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from returnbridge.bootstrap import App
from returnbridge.domain.audit_log import ActorKind
from returnbridge.domain.auth import Permission, may_resolve, roles_that_resolve, sides_of
from returnbridge.domain.errors import (
    ExceptionActionRefused,
    ExceptionCode,
    NotFound,
    ReturnBridgeError,
)
from returnbridge.entrypoints.http.auth import Guard, forbidden, role_list
from returnbridge.entrypoints.http.problems import (
    AUTH_ANSWERS,
    ApiRefusal,
    Refusal,
    refusal_of,
    refusing,
)
from returnbridge.services.access import Principal
from returnbridge.services.exceptions import Action, Resolution, request_resolution
from returnbridge.services.ports import ExceptionRecord

BULK_LIMIT = 100


class StatusFilter(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"
    ALL = "all"


class ExceptionOut(BaseModel):
    id: int
    code: str
    status: str
    message: str
    return_id: str | None
    case_key: str | None
    line_id: str | None
    units_received: int
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    resolution_note: str | None
    sides: list[str] = Field(description="Who resolves it: stock (ops), money (finance).")


class ActionOut(BaseModel):
    action: str
    actor: str
    at: datetime
    note: str
    detail: dict[str, Any]


class ExceptionDetail(ExceptionOut):
    actions: list[ActionOut]
    raw: str = Field(description="The input as it arrived: the event(s) or the file rows.")


class ExceptionPage(BaseModel):
    items: list[ExceptionOut]
    next_after: int | None = Field(description="Pass as `after` for the next page (null: last).")


class Decision(BaseModel):
    """A decision on one exception, with the options ``exceptions resolve`` takes."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    note: str = Field("", max_length=2_000, description="Why: required to ignore.")
    sku: str | None = Field(None, max_length=200, description="reprocess: re-map the SKU.")
    reason: str | None = Field(None, max_length=200, description="reprocess: ZigZag reason id.")
    disposition: str | None = Field(None, max_length=200, description="reprocess: disposition.")

    @field_validator("note", "sku", "reason", "disposition")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("a NUL character cannot be stored")
        return value

    def resolution(self, principal: Principal) -> Resolution:
        return Resolution(
            action=self.action,
            actor=principal.name,
            note=self.note,
            sku=self.sku,
            reason=self.reason,
            disposition=self.disposition,
            actor_kind=ActorKind.TOKEN,
        )


class Retry(BaseModel):
    """Process the exception's input again with the master data in force (``reprocess``)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=2_000, description="Why, e.g. the catalog fix it follows.")

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("a NUL character cannot be stored")
        return value


class BulkDecision(Decision):
    id: int


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BulkDecision] = Field(min_length=1, max_length=BULK_LIMIT)


class Outcome(BaseModel):
    exception: ExceptionOut
    still_open: list[ExceptionOut] = Field(
        description="Open exceptions on the same line after the decision: the line cannot flow "
        "until they are resolved (the one decided on, or one the decision revealed)."
    )


class BulkOutcome(BaseModel):
    results: list[Outcome]


def exception_out(record: ExceptionRecord) -> ExceptionOut:
    return ExceptionOut(
        id=record.id,
        code=record.code,
        status=record.status,
        message=record.message,
        return_id=record.return_id,
        case_key=record.case_key,
        line_id=record.line_id,
        units_received=record.units_received,
        created_at=record.created_at,
        resolved_at=record.resolved_at,
        resolved_by=record.resolved_by,
        resolution=record.resolution,
        resolution_note=record.resolution_note,
        sides=sorted(side.value for side in sides_of(record.code)),
    )


class _Refused(Exception):
    """Rolls the decisions' transaction back; carries what was refused."""

    def __init__(self, refused: list[tuple[int, ReturnBridgeError]]) -> None:
        super().__init__(f"{len(refused)} refused")
        self.refused = refused


def _forbidden(principal: Principal, records: Sequence[ExceptionRecord]) -> ApiRefusal:
    needs = [(r, roles_that_resolve(r.code)) for r in records]
    if len(needs) == 1:
        r, roles = needs[0]
        refusal = forbidden(principal, f"resolving {r.code} (exception {r.id})", roles)
    else:
        listed = "; ".join(f"{r.id} ({r.code}: {role_list(roles)})" for r, roles in needs)
        refusal = ApiRefusal(
            403,
            "forbidden",
            f"this token ({principal.name}) has the role {principal.role}, which may not "
            f"resolve exceptions {listed}; nothing was recorded",
        )
    refusal.extra["items"] = [
        {"id": r.id, "code": r.code, "roles": [role.value for role in roles]} for r, roles in needs
    ]
    return refusal


def exceptions_router(rb: App, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/api/exceptions", tags=["exceptions"], responses=AUTH_ANSWERS)
    reader = guard.require(Permission.READ, "reading exceptions")
    resolver = guard.require_resolver()
    # The app's one Processor keeps the master data it last loaded: one drain at a time.
    applying = threading.Lock()

    def decide(principal: Principal, decisions: Sequence[tuple[int, Decision]]) -> None:
        """Record every decision in one transaction, or none."""
        try:
            with rb.stores() as store:
                found = [store.exception(exception_id) for exception_id, _ in decisions]
                barred = [
                    r for r in found if r is not None and not may_resolve(principal.role, r.code)
                ]
                if barred:
                    raise _forbidden(principal, barred)
                refused: list[tuple[int, ReturnBridgeError]] = []
                for exception_id, decision in decisions:
                    try:
                        request_resolution(
                            store, exception_id, decision.resolution(principal), rb.clock
                        )
                    except (NotFound, ExceptionActionRefused) as exc:
                        refused.append((exception_id, exc))
                if refused:
                    raise _Refused(refused)
        except _Refused as exc:
            if len(decisions) == 1:
                raise refusal_of(exc.refused[0][1]) from None
            raise ApiRefusal(
                409,
                "bulk_refused",
                f"{len(exc.refused)} of {len(decisions)} decisions refused; nothing was recorded",
                refused=[{"id": i, "code": e.code, "message": e.message} for i, e in exc.refused],
            ) from None
        with applying:
            rb.processor.drain()

    def outcomes(ids: Sequence[int]) -> list[Outcome]:
        results = []
        with rb.stores() as store:
            for exception_id in ids:
                record = store.exception(exception_id)
                assert record is not None
                still = (
                    store.list_exceptions("open", None, 100, record.case_key, record.line_id)
                    if record.line_id
                    else []
                )
                results.append(
                    Outcome(
                        exception=exception_out(record),
                        still_open=[exception_out(r) for r in still],
                    )
                )
        return results

    @router.get("", response_model=ExceptionPage, summary="List exceptions, oldest first")
    def list_exceptions(
        status: StatusFilter = StatusFilter.OPEN,
        code: ExceptionCode | None = None,
        limit: int = Query(100, ge=1, le=1_000),
        after: int | None = Query(None, ge=0, description="Only ids above this (paging)."),
        _: Principal = Depends(reader),
    ) -> ExceptionPage:
        with refusing(), rb.stores() as store:
            records = store.list_exceptions(
                None if status is StatusFilter.ALL else status.value,
                code.value if code else None,
                limit + 1,
                after_id=after,
            )
        page = records[:limit]
        more = len(records) > limit
        return ExceptionPage(
            items=[exception_out(r) for r in page], next_after=page[-1].id if more else None
        )

    @router.get(
        "/{exception_id}",
        response_model=ExceptionDetail,
        responses={404: {"model": Refusal, "description": "record.not_found"}},
        summary="One exception: its raw input and every action taken on it",
    )
    def show_exception(exception_id: int, _: Principal = Depends(reader)) -> ExceptionDetail:
        with refusing(), rb.stores() as store:
            record = store.exception(exception_id)
        if record is None:
            raise refusal_of(NotFound(f"no exception {exception_id}"))
        return ExceptionDetail(
            **exception_out(record).model_dump(),
            actions=[ActionOut(**a) for a in record.actions],
            raw=record.raw,
        )

    @router.post(
        "/{exception_id}/resolve",
        response_model=Outcome,
        responses={
            404: {"model": Refusal, "description": "record.not_found"},
            409: {"model": Refusal, "description": "exception.action_refused: nothing recorded."},
        },
        summary="Resolve one exception: reprocess (with a re-map), write off, or ignore",
    )
    def resolve_one(
        exception_id: int, decision: Decision, principal: Principal = Depends(resolver)
    ) -> Outcome:
        with refusing():
            decide(principal, [(exception_id, decision)])
            return outcomes([exception_id])[0]

    @router.post(
        "/{exception_id}/retry",
        response_model=Outcome,
        responses={
            404: {"model": Refusal, "description": "record.not_found"},
            409: {"model": Refusal, "description": "exception.action_refused: nothing recorded."},
        },
        summary="Retry one exception: reprocess it with the current catalog and mappings",
    )
    def retry_one(
        exception_id: int, body: Retry | None = None, principal: Principal = Depends(resolver)
    ) -> Outcome:
        decision = Decision(
            action=Action.REPROCESS,
            note=body.note if body else "",
            sku=None,
            reason=None,
            disposition=None,
        )
        with refusing():
            decide(principal, [(exception_id, decision)])
            return outcomes([exception_id])[0]

    @router.post(
        "/resolve",
        response_model=BulkOutcome,
        responses={409: {"model": Refusal, "description": "bulk_refused: nothing recorded."}},
        summary=f"Resolve up to {BULK_LIMIT} exceptions at once: all or nothing",
    )
    def resolve_many(body: BulkBody, principal: Principal = Depends(resolver)) -> BulkOutcome:
        ids = [item.id for item in body.items]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ApiRefusal(
                400, "invalid_request", f"exception(s) {twice} appear more than once: one each"
            )
        with refusing():
            decide(principal, [(item.id, item) for item in body.items])
            return BulkOutcome(results=outcomes(ids))

    return router
