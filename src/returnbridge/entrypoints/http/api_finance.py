"""Money over HTTP: where each return line's credit stands (``/api/credits``, as ``credits
list --json``), credit not cleared by cause and age (``/api/credits/ageing``), and SAFE-T claim
candidates (``/api/claims``, as ``claims list``). Amounts are integers of minor units with their
currency. Reading needs a token of any role (docs/finance.md says what each figure means)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Permission
from returnbridge.domain.credits import AGE_BUCKETS, CreditRow, CreditState, ageing
from returnbridge.entrypoints.http.auth import Guard
from returnbridge.entrypoints.http.problems import AUTH_ANSWERS, ApiRefusal, refusing
from returnbridge.services.access import Principal
from returnbridge.services.finance import credit_report
from returnbridge.services.pipeline import MasterData
from returnbridge.services.rfs import claim_candidates, claim_rules, refunded_cases
from returnbridge.store.finance import SqlFinanceStore
from returnbridge.store.rfs import rfs_transaction
from returnbridge.store.sql import transaction


class CreditOut(BaseModel):
    case_id: int = Field(description="The return case (`/api/returns/{case_id}`).")
    line_ref: int = Field(description="The line's number in returnbridge (paging key).")
    return_ref: str = Field(
        serialization_alias="return", description="ZigZag's return id (or the case key)."
    )
    line_id: str
    sku: str
    currency: str
    state: CreditState
    expected_units: int
    credit_expected: int
    credited: int
    pending: int
    disputed: int
    over_credited: int
    pending_by_cause: dict[str, int]
    credit_notes: list[str]
    payments: list[str]
    return_requests: list[str]
    quantity_approved: int | None
    returned_at: datetime | None


class CreditPage(BaseModel):
    items: list[CreditOut]
    next_after: int | None = Field(description="Pass as `after` for the next page (null: last).")


class AgeingOut(BaseModel):
    as_of: datetime
    buckets: list[str] = Field(description="Days since the goods came back.")
    by_currency: dict[str, dict[str, dict[str, int]]] = Field(
        description="currency -> cause (not_sent, awaiting_amazon, awaiting_remittance, "
        "disputed) -> age bucket -> minor units."
    )


class ClaimOut(BaseModel):
    case_id: int
    case_key: str
    return_id: str | None
    order_id: str
    refunded_at: datetime
    deadline: datetime = Field(
        description="Claim from Amazon before this: the account's window, counted from its "
        "starting event (docs/accounts.md#claim-windows)."
    )
    days_left: int
    refund_minor: int
    currency: str
    reason: str
    account: str | None = Field(description="The vendor account (null: not known).")
    route: str = Field(description="vendor-dispute (Vendor Central) or safe-t (Seller Central).")
    delivered_at: datetime | None = Field(description="The return's delivery scan.")


class ClaimPage(BaseModel):
    items: list[ClaimOut]
    next_after: str | None = Field(description="Pass as `after` for the next page (null: last).")


def _credit(row: CreditRow) -> CreditOut:
    line = row.line
    return CreditOut(
        case_id=line.case_id,
        line_ref=line.line_ref,
        return_ref=line.reference,
        line_id=line.line_id,
        sku=line.sku,
        currency=line.currency,
        state=row.state,
        expected_units=line.expected_units,
        credit_expected=line.expected,
        credited=row.credited,
        pending=row.pending,
        disputed=row.disputed,
        over_credited=row.over_credited,
        pending_by_cause={k.value: v for k, v in row.causes.items()},
        credit_notes=list(row.documents),
        payments=list(row.payments),
        return_requests=list(row.requests),
        quantity_approved=row.quantity_approved,
        returned_at=line.returned_at,
    )


def _claim_key(claim: ClaimOut) -> str:
    return f"{claim.deadline.isoformat()}/{claim.case_id}"


def finance_router(rb: App, guard: Guard) -> APIRouter:
    router = APIRouter(tags=["finance"], responses=AUTH_ANSWERS)
    reader = guard.require(Permission.READ, "reading credits and claims")

    def credit_rows() -> list[CreditRow]:
        with refusing(), transaction(rb.engine) as store:
            return credit_report(SqlFinanceStore(store.conn))

    @router.get(
        "/api/credits",
        response_model=CreditPage,
        summary="Each return line's credit: expected, credited, pending, disputed",
    )
    def credits(
        state: CreditState | None = None,
        limit: int = Query(200, ge=1, le=5_000),
        after: int | None = Query(None, ge=0, description="Only lines above this line_ref."),
        _: Principal = Depends(reader),
    ) -> CreditPage:
        rows = sorted(
            (
                r
                for r in credit_rows()
                if (state is None or r.state is state)
                and (after is None or r.line.line_ref > after)
            ),
            key=lambda r: (r.line.line_ref, r.line.currency),
        )
        page = rows[:limit]
        # A line owing in two currencies has two rows: a page never splits them.
        while len(page) < len(rows) and rows[len(page)].line.line_ref == page[-1].line.line_ref:
            page.append(rows[len(page)])
        more = len(rows) > len(page)
        return CreditPage(
            items=[_credit(r) for r in page], next_after=page[-1].line.line_ref if more else None
        )

    @router.get(
        "/api/credits/ageing",
        response_model=AgeingOut,
        summary="Credit not cleared, by currency, cause and age",
    )
    def credits_ageing(_: Principal = Depends(reader)) -> AgeingOut:
        rows = credit_rows()
        now = rb.clock()
        return AgeingOut(
            as_of=now,
            buckets=[name for name, _, _ in AGE_BUCKETS],
            by_currency=ageing(rows, now),
        )

    @router.get(
        "/api/claims",
        response_model=ClaimPage,
        summary="SAFE-T claim candidates, soonest deadline first",
    )
    def claims(
        limit: int = Query(200, ge=1, le=5_000),
        after: str | None = Query(None, max_length=100, description="`next_after` of a page."),
        _: Principal = Depends(reader),
    ) -> ClaimPage:
        masterdata = MasterData()
        with refusing():
            with transaction(rb.engine) as store:
                masterdata.refresh(store)
            with rfs_transaction(rb.engine) as store:
                cases = list(refunded_cases(store))
        ids = {c.case_key: c.case_id for c in cases}
        now = rb.clock()
        found = sorted(
            (
                ClaimOut(
                    case_id=ids[c.case_key],
                    days_left=c.days_left(now),
                    **asdict(c),
                )
                for c in claim_candidates(
                    cases,
                    masterdata.catalog,
                    masterdata.mappings,
                    claim_rules(rb.accounts(), rb.warehouse_map()),
                )
            ),
            key=lambda c: (c.deadline, c.case_id),
        )
        if after is not None:
            found = [c for c in found if _after(c, after)]
        page = found[:limit]
        more = len(found) > limit
        return ClaimPage(items=page, next_after=_claim_key(page[-1]) if more else None)

    return router


def _after(claim: ClaimOut, cursor: str) -> bool:
    deadline, _, case_id = cursor.rpartition("/")
    try:
        at, number = datetime.fromisoformat(deadline), int(case_id)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ApiRefusal(400, "invalid_request", f"after: {cursor!r} is not a `next_after`")
    return (claim.deadline, claim.case_id) > (at, number)
