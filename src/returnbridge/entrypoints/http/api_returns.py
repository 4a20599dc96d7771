"""Returns over HTTP: search by ZigZag return id, Amazon order id or SKU (``/api/returns``),
and one return in full (``/api/returns/{id}``): its lines, its exceptions and its timeline
across ZigZag, Amazon, the books and people's decisions (store/return_timeline.py).

A SKU may be given in any form the catalog knows (vendor SKU in any case or separators, EAN,
ASIN, alias): it matches the lines of that product, and the lines scanned with that very text.
Reading needs a token of any role.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Permission
from returnbridge.domain.errors import NotFound
from returnbridge.entrypoints.http.api_exceptions import ExceptionOut, exception_out
from returnbridge.entrypoints.http.auth import Guard
from returnbridge.entrypoints.http.problems import AUTH_ANSWERS, Refusal, refusal_of, refusing
from returnbridge.services.access import Principal
from returnbridge.services.pipeline import MasterData
from returnbridge.store.returns_view import ReturnSummary, return_view, search_returns
from returnbridge.store.sql import transaction

EXCEPTIONS_SHOWN = 1_000


class ReturnOut(BaseModel):
    id: int = Field(description="returnbridge's return case number (`/api/returns/{id}`).")
    case_key: str
    return_id: str | None = Field(description="ZigZag's return id (none: refunded, not seen).")
    order_id: str | None = Field(description="The Amazon order.")
    status: str
    provisional: bool = Field(description="Opened by a refund at first scan, not yet received.")
    warehouse: str | None
    created_at: datetime
    updated_at: datetime
    skus: list[str]


class ReturnPage(BaseModel):
    items: list[ReturnOut]
    next_after: int | None = Field(description="Pass as `after` for the next page (null: last).")


class LineOut(BaseModel):
    line_id: str
    kind: str = Field(description="product, or charge (a fee: money, never units).")
    status: str
    sku: str | None = Field(description="The canonical SKU (none: not resolved).")
    sku_scanned: str | None
    warehouse: str | None
    reason: str | None
    grade: str | None
    disposition: str | None
    route: str | None
    expected_qty: int | None
    units: dict[str, int] = Field(
        description="received, then where they stand: restocked, written_off, liquidated, "
        "refurbished, returned_to_vendor, in_exception, pending."
    )


class TimelineOut(BaseModel):
    at: datetime
    source: str = Field(description="zigzag, amazon, returnbridge (what it booked), or manual.")
    kind: str = Field(description="e.g. return.received, inventory.sent, remittance, journal.")
    summary: str
    line_id: str | None
    detail: dict[str, Any]


class ReturnDetail(ReturnOut):
    lines: list[LineOut]
    exceptions: list[ExceptionOut]
    timeline: list[TimelineOut] = Field(description="Oldest first, from both systems.")


def _out(summary: ReturnSummary) -> ReturnOut:
    return ReturnOut(
        id=summary.id,
        case_key=summary.case_key,
        return_id=summary.return_id,
        order_id=summary.order_id,
        status=summary.status,
        provisional=summary.provisional,
        warehouse=summary.warehouse,
        created_at=summary.created_at,
        updated_at=summary.updated_at,
        skus=list(summary.skus),
    )


def returns_router(rb: App, guard: Guard) -> APIRouter:
    router = APIRouter(prefix="/api/returns", tags=["returns"], responses=AUTH_ANSWERS)
    reader = guard.require(Permission.READ, "reading returns")
    masterdata = MasterData()  # the catalog in force, to read a SKU in any form
    catalog_lock = threading.Lock()

    def sku_forms(sku: str) -> list[str]:
        with catalog_lock, transaction(rb.engine) as store:
            masterdata.refresh(store)
            found = masterdata.catalog.resolve(sku)
        return sorted({sku, found.item.sku} if found else {sku})

    @router.get("", response_model=ReturnPage, summary="Search returns, by case number")
    def search(
        zigzag_id: str | None = Query(None, max_length=200, description="ZigZag's return id."),
        order_id: str | None = Query(None, max_length=200, description="The Amazon order id."),
        sku: str | None = Query(None, max_length=200, description="Any form the catalog knows."),
        limit: int = Query(100, ge=1, le=1_000),
        after: int | None = Query(None, ge=0, description="Only case numbers above this."),
        _: Principal = Depends(reader),
    ) -> ReturnPage:
        with refusing():
            skus = sku_forms(sku.strip()) if sku and sku.strip() else []
            with transaction(rb.engine) as store:
                found = search_returns(
                    store.conn,
                    return_id=zigzag_id,
                    order_id=order_id,
                    skus=skus,
                    after=after,
                    limit=limit + 1,
                )
        page = found[:limit]
        more = len(found) > limit
        return ReturnPage(items=[_out(r) for r in page], next_after=page[-1].id if more else None)

    @router.get(
        "/{case_id}",
        response_model=ReturnDetail,
        responses={404: {"model": Refusal, "description": "record.not_found"}},
        summary="One return: lines, exceptions, and its timeline across ZigZag and Amazon",
    )
    def show(case_id: int, _: Principal = Depends(reader)) -> ReturnDetail:
        with refusing(), transaction(rb.engine) as store:
            view = return_view(store.conn, case_id)
            held = (
                store.list_exceptions(None, None, EXCEPTIONS_SHOWN, view.summary.case_key)
                if view
                else []
            )
        if view is None:
            raise refusal_of(NotFound(f"no return case {case_id}"))
        return ReturnDetail(
            **_out(view.summary).model_dump(),
            lines=[LineOut(**asdict(line)) for line in view.lines],
            exceptions=[exception_out(r) for r in held],
            timeline=[TimelineOut(**asdict(entry)) for entry in view.timeline],
        )

    return router
