"""The daily log's read model: what returnbridge recorded on one UTC day, section by section.

Every section is keyed on the time returnbridge itself stored, the only date every row carries
(the partners' own event times live inside the raw payloads and may be days older: the demo's
events happened on its generator's day, but were received on the day it ran):

- ``arrived``: inbox rows by ``inbox.received_at`` (when the event was stored, first copy);
- ``processed``: return cases and lines by their ``updated_at`` (the last change that day
  decides the status they are counted in; a line changed again later counts on the later day);
- ``amazon``: clearing cycles by ``clearing_cycles.started_at``, submissions by
  ``amazon_submissions.prepared_at``;
- ``amazon_rejected`` and ``exceptions_opened``: exceptions by ``exceptions.created_at``;
- ``open_exceptions``: exceptions created before the end of the day and not resolved by then,
  their age counted to ``as_of``;
- ``credits``: the money as it stands when the log is made (``finance_figures``), aged to
  ``as_of``: the credit ledger keeps no history by day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, or_, select

from returnbridge.domain.credits import ageing
from returnbridge.domain.errors import ExceptionCode
from returnbridge.services.finance import credit_report
from returnbridge.store.finance import SqlFinanceStore, finance_figures
from returnbridge.store.sql import aware
from returnbridge.store.tables import (
    amazon_submissions,
    clearing_cycles,
    exceptions,
    inbox,
    return_cases,
    return_lines,
)

ROUTES = ("restocked", "written_off", "liquidated", "refurbished", "returned_to_vendor")
AMAZON_CODES = (
    ExceptionCode.AMAZON_REJECTED.value,
    ExceptionCode.AMAZON_STUCK.value,
    ExceptionCode.CREDIT_OVERSTATED.value,
)
LISTED = 20  # Amazon rejections listed one by one; the count says how many more


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC day as a half-open interval [start, end)."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else aware(value).isoformat()


def _arrived(conn: Connection, start: datetime, end: datetime) -> dict[str, Any]:
    # Duplicates count events that came again, not re-sends of an input refused as unreadable
    # (as in the run summary, ``store/readmodels.py``).
    repeats = case((inbox.c.status != "invalid", inbox.c.duplicates), else_=0)
    invalid = case((inbox.c.status == "invalid", 1), else_=0)
    rows = conn.execute(
        select(
            inbox.c.source,
            inbox.c.event_type,
            func.count(),
            func.coalesce(func.sum(repeats), 0),
            func.coalesce(func.sum(invalid), 0),
        )
        .where(inbox.c.received_at >= start, inbox.c.received_at < end)
        .group_by(inbox.c.source, inbox.c.event_type)
        .order_by(inbox.c.source, inbox.c.event_type)
    ).all()
    by_source: dict[str, dict[str, int]] = {}
    by_type = []
    for source, event_type, events, duplicates, unreadable in rows:
        total = by_source.setdefault(source, {"events": 0, "duplicates": 0, "unreadable": 0})
        total["events"] += int(events)
        total["duplicates"] += int(duplicates)
        total["unreadable"] += int(unreadable)
        by_type.append(
            {
                "source": source,
                "event_type": event_type,
                "events": int(events),
                "duplicates": int(duplicates),
                "unreadable": int(unreadable),
            }
        )
    return {
        "events": sum(s["events"] for s in by_source.values()),
        "by_source": by_source,
        "by_type": by_type,
    }


def _counts(conn: Connection, query: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(conn.execute(query).all())}


def _processed(conn: Connection, start: datetime, end: datetime) -> dict[str, Any]:
    case_day = (return_cases.c.updated_at >= start, return_cases.c.updated_at < end)
    line_day = (return_lines.c.updated_at >= start, return_lines.c.updated_at < end)
    cases = _counts(
        conn,
        select(return_cases.c.status, func.count())
        .where(*case_day)
        .group_by(return_cases.c.status),
    )
    lines = _counts(
        conn,
        select(return_lines.c.status, func.count())
        .where(*line_day)
        .group_by(return_lines.c.status),
    )
    sums = conn.execute(
        select(
            *[
                func.coalesce(func.sum(getattr(return_lines.c, f"units_{route}")), 0)
                for route in ROUTES
            ]
        ).where(*line_day, return_lines.c.kind == "product")
    ).one()
    return {
        "cases": sum(cases.values()),
        "cases_by_status": cases,
        "lines": sum(lines.values()),
        "lines_by_status": lines,
        "units_by_route": {route: int(v) for route, v in zip(ROUTES, sums, strict=True)},
    }


def _amazon(conn: Connection, start: datetime, end: datetime) -> dict[str, Any]:
    cycles = conn.execute(
        select(
            func.count(),
            func.count(clearing_cycles.c.closed_at),
            func.min(clearing_cycles.c.started_at),
            func.max(clearing_cycles.c.started_at),
        ).where(clearing_cycles.c.started_at >= start, clearing_cycles.c.started_at < end)
    ).one()
    rows = conn.execute(
        select(
            amazon_submissions.c.operation,
            amazon_submissions.c.status,
            func.count(),
            func.coalesce(func.sum(amazon_submissions.c.item_count), 0),
        )
        .where(amazon_submissions.c.prepared_at >= start, amazon_submissions.c.prepared_at < end)
        .group_by(amazon_submissions.c.operation, amazon_submissions.c.status)
        .order_by(amazon_submissions.c.operation, amazon_submissions.c.status)
    ).all()
    submissions: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for operation, status, requests, items in rows:
        submissions[operation][status] = {"requests": int(requests), "items": int(items)}
    return {
        "cycles": int(cycles[0]),
        "cycles_closed": int(cycles[1]),
        "first_cycle_at": _iso(cycles[2]),
        "last_cycle_at": _iso(cycles[3]),
        "submissions": dict(submissions),
    }


def _opened(
    conn: Connection, start: datetime, end: datetime
) -> tuple[dict[str, int], Sequence[Any]]:
    day = (exceptions.c.created_at >= start, exceptions.c.created_at < end)
    by_code = _counts(
        conn, select(exceptions.c.code, func.count()).where(*day).group_by(exceptions.c.code)
    )
    rejected = conn.execute(
        select(
            exceptions.c.id,
            exceptions.c.code,
            exceptions.c.status,
            exceptions.c.case_id,
            exceptions.c.line_id,
            exceptions.c.message,
            exceptions.c.created_at,
            return_cases.c.return_id,
            return_cases.c.case_key,
        )
        .outerjoin(return_cases, return_cases.c.id == exceptions.c.case_id)
        .where(*day, exceptions.c.code.in_(AMAZON_CODES))
        .order_by(exceptions.c.id)
    ).all()
    return by_code, rejected


def _open_at_end(conn: Connection, end: datetime, as_of: datetime) -> dict[str, Any]:
    rows = conn.execute(
        select(exceptions.c.code, func.count(), func.min(exceptions.c.created_at))
        .where(
            exceptions.c.created_at < end,
            or_(
                exceptions.c.status == "open",
                exceptions.c.resolved_at >= end,
            ),
        )
        .group_by(exceptions.c.code)
        .order_by(exceptions.c.code)
    ).all()
    found = {}
    for code, count, oldest in rows:
        at = aware(oldest)
        found[code] = {
            "open": int(count),
            "oldest_at": at.isoformat(),
            "oldest_age_days": max(0, (as_of - at).days),
        }
    return found


def _credits(conn: Connection, as_of: datetime) -> dict[str, Any]:
    figures = finance_figures(conn)
    rows = credit_report(SqlFinanceStore(conn))
    return {
        "credits_expected": figures["credits_expected"],
        "credited": figures["credited"],
        "pending": figures["pending"],
        "disputed": figures["disputed"],
        "money_invariants_ok": bool(figures["money_invariants_ok"]),
        "ageing": ageing(rows, as_of),
    }


def daily_figures(conn: Connection, day: date, *, as_of: datetime | None = None) -> dict[str, Any]:
    """The figures of the daily log for the UTC ``day``, JSON-ready (times as ISO strings,
    money in minor units per currency). ``as_of`` is the moment ages are counted to: the end of
    the day by default; the command passes "now" when the day is not over yet."""
    start, end = day_bounds(day)
    as_of = end if as_of is None else min(aware(as_of), end)
    opened, rejected = _opened(conn, start, end)
    more = max(0, len(rejected) - LISTED)
    return {
        "date": day.isoformat(),
        "as_of": as_of.isoformat(),
        "arrived": _arrived(conn, start, end),
        "processed": _processed(conn, start, end),
        "amazon": _amazon(conn, start, end),
        "exceptions_opened": opened,
        "amazon_rejected": {
            "by_code": {code: n for code, n in opened.items() if code in AMAZON_CODES},
            "items": [
                {
                    "id": int(r.id),
                    "code": r.code,
                    "status": r.status,
                    "return": r.return_id or r.case_key,
                    "line_id": r.line_id,
                    "message": r.message,
                    "created_at": _iso(r.created_at),
                }
                for r in rejected[:LISTED]
            ],
            "more": more,
        },
        "open_exceptions": _open_at_end(conn, end, as_of),
        "credits": _credits(conn, as_of),
    }
