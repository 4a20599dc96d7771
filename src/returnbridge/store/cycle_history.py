"""Clearing cycles and Amazon transactions as they were recorded, for the API: each cycle with
its submissions (one request to Amazon each: a stock update or a batch of credit notes), their
transaction ids, statuses and Amazon's errors."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from returnbridge.store.sql import aware, aware_or_none
from returnbridge.store.tables import amazon_submissions, clearing_cycles


@dataclass(frozen=True)
class SubmissionView:
    id: int
    cycle_id: int
    operation: str  # inventory | credit_notes
    warehouse: str | None
    status: str  # prepared | sent | success | failure | stuck | refused
    transaction_id: str | None
    items: int
    prepared_at: datetime
    sent_at: datetime | None
    final_at: datetime | None
    errors: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CycleView:
    id: int
    started_at: datetime
    closed_at: datetime | None
    submissions: int
    items: int
    by_status: dict[str, int]  # submissions per status


def _submission(r: Any) -> SubmissionView:
    return SubmissionView(
        id=r.id,
        cycle_id=r.cycle_id,
        operation=r.operation,
        warehouse=r.warehouse,
        status=r.status,
        transaction_id=r.transaction_id,
        items=r.item_count,
        prepared_at=aware(r.prepared_at),
        sent_at=aware_or_none(r.sent_at),
        final_at=aware_or_none(r.final_at),
        errors=tuple(json.loads(r.errors)) if r.errors else (),
    )


def list_cycles(conn: Connection, before: int | None, limit: int) -> list[CycleView]:
    """Cycles newest first; ``before``: only cycles with a lower id (paging)."""
    query = select(clearing_cycles).order_by(clearing_cycles.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(clearing_cycles.c.id < before)
    cycles = conn.execute(query).all()
    counts: dict[int, Counter[str]] = {c.id: Counter() for c in cycles}
    items: Counter[int] = Counter()
    if cycles:
        s = amazon_submissions
        for r in conn.execute(
            select(s.c.cycle_id, s.c.status, func.count(), func.sum(s.c.item_count))
            .where(s.c.cycle_id.in_(list(counts)))
            .group_by(s.c.cycle_id, s.c.status)
        ):
            counts[r[0]][r[1]] = int(r[2])
            items[r[0]] += int(r[3] or 0)
    return [
        CycleView(
            id=c.id,
            started_at=aware(c.started_at),
            closed_at=aware_or_none(c.closed_at),
            submissions=sum(counts[c.id].values()),
            items=items[c.id],
            by_status=dict(sorted(counts[c.id].items())),
        )
        for c in cycles
    ]


def cycle(conn: Connection, cycle_id: int) -> tuple[CycleView, list[SubmissionView]] | None:
    """One cycle and its submissions in the order they were prepared; None if unknown."""
    found = list_cycles(conn, cycle_id + 1, 1)
    if not found or found[0].id != cycle_id:
        return None
    rows = conn.execute(
        select(amazon_submissions)
        .where(amazon_submissions.c.cycle_id == cycle_id)
        .order_by(amazon_submissions.c.id)
    )
    return found[0], [_submission(r) for r in rows]


def list_submissions(
    conn: Connection,
    status: str | None,
    operation: str | None,
    before: int | None,
    limit: int,
) -> list[SubmissionView]:
    """Amazon transactions newest first, optionally of one status or operation."""
    s = amazon_submissions
    query = select(s).order_by(s.c.id.desc()).limit(limit)
    for column, value in ((s.c.status, status), (s.c.operation, operation)):
        if value is not None:
            query = query.where(column == value)
    if before is not None:
        query = query.where(s.c.id < before)
    return [_submission(r) for r in conn.execute(query)]


__all__ = ["CycleView", "SubmissionView", "cycle", "list_cycles", "list_submissions"]
