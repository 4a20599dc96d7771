"""The month-end close's read model: the figures of one calendar month, as plain dataclasses.

The period is the UTC month as a half-open interval [first day 00:00, first day of the next
month 00:00). The **close** is the moment the position is taken: the period end, or the moment
the report is made if the month has not ended yet. Each figure is keyed on a time returnbridge
stored itself:

- ``credit_rows``: the return lines with a credit movement recorded before the close
  (``credit_movements.created_at``), every line one row. The credit ledger and the outbox keep
  no history of a line's state, so each row (and its state) is as it stands when the report is
  made, not as it stood at the close; ``money_ok`` checks those rows against the ledger of the
  same lines (all their credit movements), currency by currency;
- ``ageing``: the money of those rows not cleared, aged to the close;
- ``gl_totals`` and ``journals``: journal lines of the entries posted in the month
  (``journal_entries.posted_at``); per currency their debits must equal their credits;
- ``units_by_route``: product return lines last changed in the month
  (``return_lines.updated_at``), counted where their units stand now (a line changed again in a
  later month counts in that month); ``stock_booked``: the net of the sellable stock movements
  created in the month (``stock_movements.created_at``), which keep their history;
- ``open_exceptions``: exceptions created before the close (``exceptions.created_at``) and not
  resolved by it (``exceptions.resolved_at`` empty or not before the close), aged to the close.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from returnbridge.domain.credits import (
    AMOUNT_TOLERANCE,
    CreditRow,
    CreditState,
    ageing,
    money_breaches,
)
from returnbridge.services.finance import credit_report, totals
from returnbridge.store.daily import ROUTES
from returnbridge.store.finance import SqlFinanceStore
from returnbridge.store.sql import aware
from returnbridge.store.tables import (
    credit_movements,
    credit_notes,
    exceptions,
    journal_entries,
    journal_lines,
    return_cases,
    return_lines,
    stock_movements,
)

# Where a line's received units stand: the routes, then the units not routed yet.
UNIT_PLACES = (*ROUTES, "in_exception", "pending")
MONEY_KEYS = ("credits_expected", "credited", "pending", "disputed", "over_credited")


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The UTC month of ``month`` (any day in it) as a half-open interval [start, end)."""
    start = datetime.combine(month.replace(day=1), time(), tzinfo=UTC)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return start, datetime.combine(following, time(), tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    start: datetime  # included
    end: datetime  # excluded
    close: datetime  # the period end, or when the report was made if the month had not ended
    generated_at: datetime

    @property
    def month(self) -> str:
        return self.start.strftime("%Y-%m")

    @property
    def ended(self) -> bool:
        return self.close == self.end


@dataclass(frozen=True)
class GlTotal:
    """One GL account's journal lines in one currency, summed (minor units)."""

    currency: str
    account: str
    debit: int
    credit: int

    @property
    def net(self) -> int:
        return self.debit - self.credit


@dataclass(frozen=True)
class OpenException:
    id: int
    code: str
    reference: str | None  # the return id (or case key); None for an unreadable event
    line_id: str | None
    created_at: datetime
    age_days: int  # whole days from creation to the close
    message: str


@dataclass(frozen=True)
class CreditNoteSeries:
    """One credit-note series over the month: the numbers given in it, first to last, and how
    many of them were voided (every number accounted for: docs/finance.md)."""

    series: str
    first: str
    last: str
    numbered: int
    voided: int


@dataclass(frozen=True)
class VoidedNote:
    number: str
    issued_at: datetime
    currency: str
    total: int  # minor units
    voided_at: datetime
    voided_by: str
    reason: str


@dataclass(frozen=True)
class MonthEndFigures:
    """Everything the month-end report shows; money in minor units per currency."""

    period: Period
    credit_rows: tuple[CreditRow, ...]
    credits: dict[str, Any]  # ``services.finance.totals`` of the rows
    money_breaches: tuple[str, ...]
    money_ok: dict[str, bool]  # per currency
    ageing: dict[str, dict[str, dict[str, int]]]  # currency -> cause -> bucket -> amount
    gl_totals: tuple[GlTotal, ...]
    journal_entries: dict[str, int]  # per currency
    journal_lines: dict[str, int]  # per currency
    units_by_route: dict[str, int]  # UNIT_PLACES -> units
    lines_changed: int  # product lines whose units_by_route are counted
    stock_booked: int
    open_exceptions: tuple[OpenException, ...]
    lines_by_state: dict[str, int] = field(default_factory=dict)  # every state, zero or not
    credit_note_series: tuple[CreditNoteSeries, ...] = ()  # numbered in the month
    voided_notes: tuple[VoidedNote, ...] = ()  # voided in the month

    @property
    def currencies(self) -> list[str]:
        found = set(self.money_ok) | {t.currency for t in self.gl_totals}
        return sorted(found)

    @property
    def money_invariants_ok(self) -> bool:
        return all(self.money_ok.values())

    @property
    def empty(self) -> bool:
        """Nothing recorded: no credit, no journal, no routed line, no open exception."""
        return not (
            self.credit_rows or self.gl_totals or self.lines_changed or self.open_exceptions
        )

    def open_by_code(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for e in self.open_exceptions:
            counts[e.code] += 1
        return dict(sorted(counts.items()))


def _credit(
    conn: Connection, close: datetime, tolerance: int
) -> tuple[list[CreditRow], dict[str, int]]:
    """The credit rows of the lines with a movement recorded before the close, and the ledger
    (all movements of those same lines) per currency."""
    cm = credit_movements
    recorded = select(cm.c.line_ref).where(cm.c.created_at < close).distinct()
    lines = {int(ref) for (ref,) in conn.execute(recorded)}
    rows = [r for r in credit_report(SqlFinanceStore(conn), tolerance) if r.line.line_ref in lines]
    ledger = conn.execute(
        select(cm.c.currency, func.sum(cm.c.quantity * cm.c.unit_amount))
        .where(cm.c.line_ref.in_(recorded.scalar_subquery()))
        .group_by(cm.c.currency)
    )
    return rows, {str(c): int(v) for c, v in ledger}


def _gl(conn: Connection, start: datetime, end: datetime) -> list[GlTotal]:
    posted = (journal_entries.c.posted_at >= start, journal_entries.c.posted_at < end)
    rows = conn.execute(
        select(
            journal_entries.c.currency,
            journal_lines.c.account,
            func.sum(journal_lines.c.debit),
            func.sum(journal_lines.c.credit),
        )
        .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
        .where(*posted)
        .group_by(journal_entries.c.currency, journal_lines.c.account)
        .order_by(journal_entries.c.currency, journal_lines.c.account)
    )
    return [GlTotal(c, a, int(d), int(k)) for c, a, d, k in rows]


def _journal_counts(
    conn: Connection, start: datetime, end: datetime
) -> tuple[dict[str, int], dict[str, int]]:
    je = journal_entries
    posted = (je.c.posted_at >= start, je.c.posted_at < end)
    entries = conn.execute(
        select(je.c.currency, func.count()).where(*posted).group_by(je.c.currency)
    )
    lines = conn.execute(
        select(je.c.currency, func.count())
        .select_from(journal_lines.join(je, je.c.id == journal_lines.c.entry_id))
        .where(*posted)
        .group_by(je.c.currency)
    )
    return (
        {str(c): int(n) for c, n in sorted(entries.all())},
        {str(c): int(n) for c, n in sorted(lines.all())},
    )


def _units(conn: Connection, start: datetime, end: datetime) -> tuple[dict[str, int], int, int]:
    rl = return_lines
    sums = conn.execute(
        select(
            func.count(),
            *[func.coalesce(func.sum(getattr(rl.c, f"units_{place}")), 0) for place in UNIT_PLACES],
        ).where(rl.c.updated_at >= start, rl.c.updated_at < end, rl.c.kind == "product")
    ).one()
    booked = conn.execute(
        select(func.coalesce(func.sum(stock_movements.c.quantity), 0)).where(
            stock_movements.c.created_at >= start, stock_movements.c.created_at < end
        )
    ).scalar_one()
    units = {place: int(v) for place, v in zip(UNIT_PLACES, sums[1:], strict=True)}
    return units, int(sums[0]), int(booked)


def _open_exceptions(conn: Connection, close: datetime) -> list[OpenException]:
    rows = conn.execute(
        select(
            exceptions.c.id,
            exceptions.c.code,
            exceptions.c.line_id,
            exceptions.c.message,
            exceptions.c.created_at,
            return_cases.c.return_id,
            return_cases.c.case_key,
        )
        .outerjoin(return_cases, return_cases.c.id == exceptions.c.case_id)
        .where(
            exceptions.c.created_at < close,
            or_(exceptions.c.resolved_at.is_(None), exceptions.c.resolved_at >= close),
        )
        .order_by(exceptions.c.code, exceptions.c.created_at, exceptions.c.id)
    )
    found = []
    for r in rows:
        created = aware(r.created_at)
        found.append(
            OpenException(
                id=int(r.id),
                code=r.code,
                reference=r.return_id or r.case_key,
                line_id=r.line_id,
                created_at=created,
                age_days=max(0, (close - created).days),
                message=r.message,
            )
        )
    return found


def _money_ok(
    rows: Sequence[CreditRow], ledger: dict[str, int], gl: Sequence[GlTotal], tolerance: int
) -> tuple[dict[str, bool], list[str]]:
    """Per currency: every line's credit expected = credited + pending + disputed, the rows
    add up to the ledger of the same lines, and the month's GL accounts net to zero."""
    currencies = sorted({r.line.currency for r in rows} | set(ledger) | {t.currency for t in gl})
    ok: dict[str, bool] = {}
    found: list[str] = []
    for currency in currencies:
        mine = [r for r in rows if r.line.currency == currency]
        breaches = money_breaches(mine, {currency: ledger.get(currency, 0)}, tolerance)
        accounts = [t for t in gl if t.currency == currency]
        debit, credit = sum(t.debit for t in accounts), sum(t.credit for t in accounts)
        if debit != credit:
            breaches.append(
                f"{currency}: the GL accounts of the month do not net to zero (debits {debit}, "
                f"credits {credit})"
            )
        ok[currency] = not breaches
        found += breaches
    return ok, found


def _credit_notes(
    conn: Connection, start: datetime, close: datetime
) -> tuple[tuple[CreditNoteSeries, ...], tuple[VoidedNote, ...]]:
    c = credit_notes.c
    in_month = and_(c.issued_at >= start, c.issued_at < close)
    series = tuple(
        CreditNoteSeries(r.series, r.first, r.last, int(r.numbered), int(r.voided or 0))
        for r in conn.execute(
            select(
                c.series,
                func.min(c.number).label("first"),
                func.max(c.number).label("last"),
                func.count().label("numbered"),
                func.sum(case((c.status == "voided", 1), else_=0)).label("voided"),
            )
            .where(in_month)
            .group_by(c.series)
            .order_by(c.series)
        )
    )
    voided = tuple(
        VoidedNote(
            r.number,
            aware(r.issued_at),
            r.currency,
            int(r.total),
            aware(r.voided_at),
            r.voided_by or "",
            r.void_reason or "",
        )
        for r in conn.execute(
            select(credit_notes)
            .where(c.status == "voided", c.voided_at >= start, c.voided_at < close)
            .order_by(c.number)
        )
    )
    return series, voided


def month_end_figures(
    conn: Connection, month: date, now: datetime, tolerance: int = AMOUNT_TOLERANCE
) -> MonthEndFigures:
    """The month-end figures of the UTC month of ``month``, closed at its end, or at ``now`` if
    the month has not ended. Refuses a month that has not started."""
    now = aware(now)
    start, end = month_bounds(month)
    if now <= start:
        raise ValueError(
            f"the month {start:%Y-%m} has not started (now is {now:%Y-%m-%d %H:%M} UTC): "
            "there is nothing to close"
        )
    period = Period(start, end, min(end, now), now)
    rows, ledger = _credit(conn, period.close, tolerance)
    gl = _gl(conn, start, end)
    ok, breaches = _money_ok(rows, ledger, gl, tolerance)
    entries, lines = _journal_counts(conn, start, end)
    units, changed, booked = _units(conn, start, end)
    credits = totals(rows)
    series, voided = _credit_notes(conn, start, period.close)
    return MonthEndFigures(
        period=period,
        credit_rows=tuple(rows),
        credits=credits,
        money_breaches=tuple(breaches),
        money_ok=ok,
        ageing=ageing(rows, period.close),
        gl_totals=tuple(gl),
        journal_entries=entries,
        journal_lines=lines,
        units_by_route=units,
        lines_changed=changed,
        stock_booked=booked,
        open_exceptions=tuple(_open_exceptions(conn, period.close)),
        lines_by_state={s.value: credits["lines_by_state"].get(s.value, 0) for s in CreditState},
        credit_note_series=series,
        voided_notes=voided,
    )


__all__ = [
    "MONEY_KEYS",
    "UNIT_PLACES",
    "CreditNoteSeries",
    "GlTotal",
    "MonthEndFigures",
    "OpenException",
    "Period",
    "VoidedNote",
    "month_bounds",
    "month_end_figures",
]
