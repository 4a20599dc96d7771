"""Read-side queries: the reconciliation audit and the run summary."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, case, func, literal, or_, select

from returnbridge.services.finance import credit_breaches
from returnbridge.store.finance import SqlFinanceStore
from returnbridge.store.sql import aware
from returnbridge.store.tables import (
    case_events,
    credit_movements,
    exceptions,
    inbox,
    journal_entries,
    journal_lines,
    outbox,
    return_cases,
    return_lines,
    stock_movements,
)

BUCKETS = (
    "restocked",
    "written_off",
    "liquidated",
    "refurbished",
    "returned_to_vendor",
    "in_exception",
    "pending",
)
PARTNER_SOURCES = ("zigzag", "amazon")
LIMIT = 50  # breaches listed per invariant; the count says how many more


def _where(row: Any) -> str:
    return f"return {row.return_id or row.case_key} line {row.line_id}"


class SqlLedgerAudit:
    """Implements ``returnbridge.services.reconcile.LedgerAudit``."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection

    def _line_query(self, *columns: Any) -> Any:
        return select(
            return_lines.c.line_id, return_cases.c.return_id, return_cases.c.case_key, *columns
        ).join(return_cases, return_cases.c.id == return_lines.c.case_id)

    def unconserved_lines(self) -> list[str]:
        bucket_sum = sum((getattr(return_lines.c, f"units_{b}") for b in BUCKETS), literal(0))
        negative = [getattr(return_lines.c, f"units_{b}") < 0 for b in BUCKETS]
        query = (
            self._line_query(
                return_lines.c.units_received,
                bucket_sum.label("accounted"),
                *[getattr(return_lines.c, f"units_{b}") for b in BUCKETS],
            )
            .where(
                return_lines.c.kind == "product",
                or_(return_lines.c.units_received != bucket_sum, *negative),
            )
            .order_by(return_lines.c.id)
        )
        rows = self.conn.execute(query).all()
        return [
            f"{_where(r)}: {r.units_received} received but {r.accounted} accounted for ("
            + ", ".join(f"{b} {getattr(r, f'units_{b}')}" for b in BUCKETS)
            + ")"
            for r in rows[:LIMIT]
        ] + _more(len(rows))

    def stock_mismatches(self) -> list[str]:
        """A line's restocked units sit on its own SKU and warehouse, and nowhere else."""
        sm = stock_movements
        here = (
            select(func.coalesce(func.sum(sm.c.quantity), 0))
            .where(
                sm.c.line_ref == return_lines.c.id,
                sm.c.sku == return_lines.c.sku,
                sm.c.warehouse == return_lines.c.warehouse,
            )
            .scalar_subquery()
        )
        query = (
            self._line_query(return_lines.c.units_restocked, here.label("moved"))
            .where(return_lines.c.units_restocked != here)
            .order_by(return_lines.c.id)
        )
        rows = self.conn.execute(query).all()
        found = [
            f"{_where(r)}: {r.units_restocked} restocked but {r.moved} in the stock ledger"
            for r in rows[:LIMIT]
        ] + _more(len(rows))
        elsewhere = (
            select(sm.c.line_ref, sm.c.warehouse, sm.c.sku, func.sum(sm.c.quantity).label("net"))
            .group_by(sm.c.line_ref, sm.c.warehouse, sm.c.sku)
            .subquery()
        )
        query = (
            self._line_query(
                elsewhere.c.warehouse.label("at"), elsewhere.c.sku.label("other"), elsewhere.c.net
            )
            .join(elsewhere, elsewhere.c.line_ref == return_lines.c.id)
            .where(
                elsewhere.c.net != 0,
                elsewhere.c.sku.is_distinct_from(return_lines.c.sku)
                | elsewhere.c.warehouse.is_distinct_from(return_lines.c.warehouse),
            )
            .order_by(return_lines.c.id)
        )
        rows = self.conn.execute(query).all()
        found += [
            f"{_where(r)}: {r.net:+d} units left on {r.other} at {r.at}, not the line's SKU"
            for r in rows[:LIMIT]
        ] + _more(len(rows))
        return found

    def unbalanced_journals(self) -> list[str]:
        query = (
            select(
                journal_entries.c.entry_key,
                func.coalesce(func.sum(journal_lines.c.debit), 0).label("debit"),
                func.coalesce(func.sum(journal_lines.c.credit), 0).label("credit"),
                func.count(journal_lines.c.id).label("n"),
            )
            .outerjoin(journal_lines, journal_lines.c.entry_id == journal_entries.c.id)
            .group_by(journal_entries.c.id, journal_entries.c.entry_key)
            .having(
                (
                    func.coalesce(func.sum(journal_lines.c.debit), 0)
                    != func.coalesce(func.sum(journal_lines.c.credit), 0)
                )
                | (func.count(journal_lines.c.id) < 2)
            )
            .order_by(journal_entries.c.id)
        )
        rows = self.conn.execute(query).all()
        return [
            f"journal {r.entry_key}: debits {r.debit} != credits {r.credit} ({r.n} lines)"
            for r in rows[:LIMIT]
        ] + _more(len(rows))

    def misapplied_events(self) -> list[str]:
        applied = select(func.count()).where(case_events.c.inbox_id == inbox.c.id).scalar_subquery()
        query = (
            select(inbox.c.source, inbox.c.event_id, inbox.c.status, applied.label("applied"))
            .where(
                ((inbox.c.status == "processed") & (applied != 1))
                | ((inbox.c.status != "processed") & (applied != 0))
            )
            .order_by(inbox.c.id)
        )
        rows = self.conn.execute(query).all()
        return [
            f"{r.source} event {r.event_id} ({r.status}) applied {r.applied} times"
            for r in rows[:LIMIT]
        ] + _more(len(rows))

    def missing_outbox_messages(self) -> list[str]:
        found: list[str] = []
        for table, column, prefix in (
            (stock_movements, stock_movements.c.movement_key, "stock/"),
            (journal_entries, journal_entries.c.entry_key, "journal/"),
            (credit_movements, credit_movements.c.movement_key, "credit/"),
        ):
            query = (
                select(column.label("key"))
                .select_from(table)
                .outerjoin(outbox, outbox.c.message_key == literal(prefix) + column)
                .where(outbox.c.id.is_(None))
                .order_by(table.c.id)
            )
            rows = self.conn.execute(query).all()
            found += [f"no outbox message for {prefix}{r.key}" for r in rows[:LIMIT]]
            found += _more(len(rows))
        return found

    def unaccounted_credits(self) -> list[str]:
        found = credit_breaches(SqlFinanceStore(self.conn))
        return found[:LIMIT] + _more(len(found))


def _counts(conn: Connection, query: Any) -> dict[str, int]:
    """A two-column (key, count) query as a dict, sorted by key."""
    return {str(k): int(v) for k, v in sorted(conn.execute(query).all())}


def _more(count: int) -> list[str]:
    return [f"... and {count - LIMIT} more"] if count > LIMIT else []


def summary(conn: Connection) -> dict[str, Any]:
    """The figures of a run, deterministic for the same input (no times, no ids)."""
    partner = inbox.c.source.in_(PARTNER_SOURCES)
    # Duplicates count the events that arrived again, not the re-sends of an input refused as
    # unreadable (ZigZag re-sends a webhook answered 400): those are one rejected input.
    readable_repeats = case((inbox.c.status != "invalid", inbox.c.duplicates), else_=0)
    events = conn.execute(
        select(func.count(), func.coalesce(func.sum(readable_repeats), 0)).where(partner)
    ).one()
    by_status = _counts(
        conn, select(inbox.c.status, func.count()).where(partner).group_by(inbox.c.status)
    )
    units_cols = [
        func.coalesce(func.sum(getattr(return_lines.c, f"units_{b}")), 0)
        for b in ("received", *BUCKETS)
    ]
    products = conn.execute(
        select(func.count(), *units_cols).where(return_lines.c.kind == "product")
    ).one()
    units = dict(zip(("received", *BUCKETS), (int(v) for v in products[1:]), strict=True))
    charges = conn.execute(select(func.count()).where(return_lines.c.kind == "charge")).scalar_one()
    case_status = _counts(
        conn, select(return_cases.c.status, func.count()).group_by(return_cases.c.status)
    )
    open_by_code = _counts(
        conn,
        select(exceptions.c.code, func.count())
        .where(exceptions.c.status == "open")
        .group_by(exceptions.c.code),
    )
    raised_by_code = _counts(
        conn,
        select(exceptions.c.code, func.count()).group_by(exceptions.c.code),
    )
    entry_totals = (
        select(
            journal_entries.c.id,
            journal_entries.c.kind,
            func.sum(journal_lines.c.debit).label("debit"),
            func.sum(journal_lines.c.credit).label("credit"),
        )
        .join(journal_lines, journal_lines.c.entry_id == journal_entries.c.id)
        .group_by(journal_entries.c.id, journal_entries.c.kind)
        .subquery()
    )
    journal = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(entry_totals.c.debit), 0),
            func.coalesce(
                func.sum(case((entry_totals.c.debit != entry_totals.c.credit, 1), else_=0)), 0
            ),
        )
    ).one()
    kinds = _counts(
        conn, select(journal_entries.c.kind, func.count()).group_by(journal_entries.c.kind)
    )
    stock = conn.execute(
        select(func.count(), func.coalesce(func.sum(stock_movements.c.quantity), 0))
    ).one()
    pending_outbox = _counts(
        conn,
        select(outbox.c.topic, func.count())
        .where(outbox.c.status == "pending")
        .group_by(outbox.c.topic),
    )
    return {
        "events_received": int(events[0]),
        "events_duplicate": int(events[1]),
        "events_by_status": by_status,
        "returns": sum(case_status.values()),
        "returns_by_status": case_status,
        "lines": int(products[0]),
        "charges": int(charges),
        "units": units,
        "exceptions": open_by_code,
        "exceptions_raised": raised_by_code,
        "journals": {
            "entries": int(journal[0]),
            "by_kind": kinds,
            "debit_total_minor": int(journal[1]),
            "balanced": int(journal[2]) == 0,
        },
        "stock": {"movements": int(stock[0]), "net_units": int(stock[1])},
        "outbox_pending": pending_outbox,
    }


def outbox_messages(
    conn: Connection, topic: str | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """Messages waiting for (or sent to) Amazon and the ERP, oldest first."""
    query = select(outbox).order_by(outbox.c.id).limit(limit)
    if topic:
        query = query.where(outbox.c.topic == topic)
    if status:
        query = query.where(outbox.c.status == status)
    return [
        {
            "id": r.id,
            "topic": r.topic,
            "key": r.message_key,
            "status": r.status,
            "attempts": r.attempts,
            "created_at": aware(r.created_at).isoformat(),
            "payload": json.loads(r.payload),
        }
        for r in conn.execute(query)
    ]
