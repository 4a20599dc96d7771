"""Returns for the API: search by ZigZag return id, Amazon order id or SKU, and one return in
full: its lines (status, units by route) and its timeline (``store/return_timeline.py``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, or_, select

from returnbridge.store.readmodels import BUCKETS
from returnbridge.store.return_timeline import TimelineEntry, case_timeline
from returnbridge.store.sql import aware
from returnbridge.store.tables import return_cases, return_lines


@dataclass(frozen=True)
class ReturnSummary:
    id: int  # returnbridge's return case number
    case_key: str
    return_id: str | None  # ZigZag's
    order_id: str | None  # the Amazon order
    status: str
    provisional: bool
    warehouse: str | None
    created_at: datetime
    updated_at: datetime
    skus: tuple[str, ...]


@dataclass(frozen=True)
class LineView:
    line_id: str
    kind: str
    status: str
    sku: str | None
    sku_scanned: str | None
    warehouse: str | None
    reason: str | None
    grade: str | None
    disposition: str | None
    route: str | None
    expected_qty: int | None
    units: dict[str, int]  # received, then where they stand (restocked ... pending)


@dataclass(frozen=True)
class ReturnView:
    summary: ReturnSummary
    lines: tuple[LineView, ...]
    timeline: tuple[TimelineEntry, ...]


def _summaries(conn: Connection, rows: Sequence[Any]) -> list[ReturnSummary]:
    skus: dict[int, list[str]] = defaultdict(list)
    ids = [r.id for r in rows]
    if ids:
        for line in conn.execute(
            select(return_lines.c.case_id, return_lines.c.sku)
            .where(return_lines.c.case_id.in_(ids), return_lines.c.sku.is_not(None))
            .order_by(return_lines.c.id)
        ):
            if line.sku not in skus[line.case_id]:
                skus[line.case_id].append(line.sku)
    return [
        ReturnSummary(
            id=r.id,
            case_key=r.case_key,
            return_id=r.return_id,
            order_id=r.order_ref,
            status=r.status,
            provisional=bool(r.provisional),
            warehouse=r.warehouse,
            created_at=aware(r.created_at),
            updated_at=aware(r.updated_at),
            skus=tuple(skus[r.id]),
        )
        for r in rows
    ]


def search_returns(
    conn: Connection,
    *,
    return_id: str | None = None,
    order_id: str | None = None,
    skus: Sequence[str] = (),
    after: int | None = None,
    limit: int = 100,
) -> list[ReturnSummary]:
    """Returns matching every criterion given, by case number; ``skus`` match a line's
    canonical SKU or the SKU as ZigZag scanned it."""
    query = select(return_cases).order_by(return_cases.c.id).limit(limit)
    if return_id is not None:
        query = query.where(return_cases.c.return_id == return_id)
    if order_id is not None:
        query = query.where(return_cases.c.order_ref == order_id)
    if skus:
        query = query.where(
            exists().where(
                return_lines.c.case_id == return_cases.c.id,
                or_(return_lines.c.sku.in_(skus), return_lines.c.sku_scanned.in_(skus)),
            )
        )
    if after is not None:
        query = query.where(return_cases.c.id > after)
    return _summaries(conn, conn.execute(query).all())


def return_view(conn: Connection, case_id: int) -> ReturnView | None:
    """One return with its lines and its timeline; None if there is no such case."""
    row = conn.execute(select(return_cases).where(return_cases.c.id == case_id)).first()
    if row is None:
        return None
    [summary] = _summaries(conn, [row])
    lines = tuple(
        LineView(
            line_id=r.line_id,
            kind=r.kind,
            status=r.status,
            sku=r.sku,
            sku_scanned=r.sku_scanned,
            warehouse=r.warehouse,
            reason=r.reason,
            grade=r.grade,
            disposition=r.disposition,
            route=r.route,
            expected_qty=r.expected_qty,
            units={b: int(getattr(r, f"units_{b}")) for b in ("received", *BUCKETS)},
        )
        for r in conn.execute(
            select(return_lines)
            .where(return_lines.c.case_id == case_id)
            .order_by(return_lines.c.id)
        )
    )
    return ReturnView(summary, lines, case_timeline(conn, case_id, summary.order_id))


__all__ = ["LineView", "ReturnSummary", "ReturnView", "return_view", "search_returns"]
