"""Clearing cycles and Amazon transactions over HTTP: ``/api/cycles`` (newest first),
``/api/cycles/{id}`` (a cycle with each request it sent Amazon, its transaction id, status and
Amazon's errors) and ``/api/transactions`` (those requests across cycles, e.g. the failures).
Reading needs a token of any role."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Permission
from returnbridge.domain.errors import NotFound
from returnbridge.entrypoints.http.auth import Guard
from returnbridge.entrypoints.http.problems import AUTH_ANSWERS, Refusal, refusal_of, refusing
from returnbridge.services.access import Principal
from returnbridge.store.cycle_history import cycle, list_cycles, list_submissions
from returnbridge.store.sql import transaction


class SubmissionStatus(StrEnum):
    PREPARED = "prepared"
    SENT = "sent"
    SUCCESS = "success"
    FAILURE = "failure"
    STUCK = "stuck"
    REFUSED = "refused"


class Operation(StrEnum):
    INVENTORY = "inventory"
    CREDIT_NOTES = "credit_notes"


class CycleOut(BaseModel):
    id: int
    started_at: datetime
    closed_at: datetime | None = Field(description="null: still open (or interrupted).")
    submissions: int = Field(description="Requests to Amazon prepared in this cycle.")
    items: int = Field(description="Stock positions and credit notes in them.")
    by_status: dict[str, int] = Field(description="Requests per status.")


class CyclePage(BaseModel):
    items: list[CycleOut]
    next_before: int | None = Field(description="Pass as `before` for older ones (null: last).")


class SubmissionOut(BaseModel):
    id: int
    cycle_id: int
    operation: Operation = Field(description="inventory (stock update) or credit_notes.")
    warehouse: str | None
    status: SubmissionStatus = Field(
        description="prepared (not sent yet), sent (awaiting Amazon), success, failure "
        "(rejected items: errors), stuck (never answered) or refused (400)."
    )
    transaction_id: str | None = Field(description="Amazon's transaction id, once sent.")
    items: int
    prepared_at: datetime
    sent_at: datetime | None
    final_at: datetime | None
    errors: list[dict[str, Any]] = Field(description="Amazon's errors: code, message, details.")


class CycleDetail(CycleOut):
    transactions: list[SubmissionOut]


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    next_before: int | None = Field(description="Pass as `before` for older ones (null: last).")


def _submission(view: Any) -> SubmissionOut:
    return SubmissionOut(**{**asdict(view), "errors": list(view.errors)})


def cycles_router(rb: App, guard: Guard) -> APIRouter:
    router = APIRouter(tags=["cycles"], responses=AUTH_ANSWERS)
    reader = guard.require(Permission.READ, "reading clearing cycles")

    @router.get("/api/cycles", response_model=CyclePage, summary="Clearing cycles, newest first")
    def cycles(
        limit: int = Query(50, ge=1, le=1_000),
        before: int | None = Query(None, ge=1, description="Only cycles older than this id."),
        _: Principal = Depends(reader),
    ) -> CyclePage:
        with refusing(), transaction(rb.engine) as store:
            found = list_cycles(store.conn, before, limit + 1)
        page = found[:limit]
        return CyclePage(
            items=[CycleOut(**asdict(c)) for c in page],
            next_before=page[-1].id if len(found) > limit else None,
        )

    @router.get(
        "/api/cycles/{cycle_id}",
        response_model=CycleDetail,
        responses={404: {"model": Refusal, "description": "record.not_found"}},
        summary="One clearing cycle with its Amazon transactions and their statuses",
    )
    def one_cycle(cycle_id: int, _: Principal = Depends(reader)) -> CycleDetail:
        with refusing(), transaction(rb.engine) as store:
            found = cycle(store.conn, cycle_id)
        if found is None:
            raise refusal_of(NotFound(f"no clearing cycle {cycle_id}"))
        view, submissions = found
        return CycleDetail(**asdict(view), transactions=[_submission(s) for s in submissions])

    @router.get(
        "/api/transactions",
        response_model=SubmissionPage,
        summary="Amazon transactions across cycles, newest first",
    )
    def transactions(
        status: SubmissionStatus | None = None,
        operation: Operation | None = None,
        limit: int = Query(100, ge=1, le=1_000),
        before: int | None = Query(None, ge=1, description="Only ids below this (paging)."),
        _: Principal = Depends(reader),
    ) -> SubmissionPage:
        with refusing(), transaction(rb.engine) as store:
            found = list_submissions(
                store.conn,
                status.value if status else None,
                operation.value if operation else None,
                before,
                limit + 1,
            )
        page = found[:limit]
        return SubmissionPage(
            items=[_submission(s) for s in page],
            next_before=page[-1].id if len(found) > limit else None,
        )

    return router
