"""The final state of a database, free of ids and times, so two runs can be compared.

Two runs of the same facts must agree on every line's status and units, the net sellable
stock per warehouse and SKU, the credit each line owes Amazon, the net balance of every GL
account, the open exceptions and the cases' statuses, however the events were ordered,
duplicated or retried.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from returnbridge.store.tables import (
    credit_movements,
    exceptions,
    journal_entries,
    journal_lines,
    return_cases,
    return_lines,
    stock_movements,
)


def _case_name(return_id: str | None, order_ref: str | None) -> str:
    return f"zz:{return_id}" if return_id else f"order:{order_ref}"


def final_state(conn: Connection) -> dict[str, Any]:
    lines = {}
    for r in conn.execute(
        select(return_cases.c.return_id, return_cases.c.order_ref, return_lines).join(
            return_cases, return_cases.c.id == return_lines.c.case_id
        )
    ):
        row = dict(r._mapping)
        key = f"{_case_name(row.pop('return_id'), row.pop('order_ref'))}/{row['line_id']}"
        for volatile in ("id", "case_id", "updated_at"):
            row.pop(volatile)
        lines[key] = row
    stock = {
        f"{r.warehouse}/{r.sku}": int(r.net)
        for r in conn.execute(
            select(
                stock_movements.c.warehouse,
                stock_movements.c.sku,
                func.sum(stock_movements.c.quantity).label("net"),
            ).group_by(stock_movements.c.warehouse, stock_movements.c.sku)
        )
        if int(r.net)
    }
    credits = {
        f"{_case_name(r.return_id, r.order_ref)}/{r.line_id}/{r.sku}@{r.unit_amount}{r.currency}": (
            int(r.net)
        )
        for r in conn.execute(
            select(
                return_cases.c.return_id,
                return_cases.c.order_ref,
                return_lines.c.line_id,
                credit_movements.c.sku,
                credit_movements.c.unit_amount,
                credit_movements.c.currency,
                func.sum(credit_movements.c.quantity).label("net"),
            )
            .join(return_lines, return_lines.c.id == credit_movements.c.line_ref)
            .join(return_cases, return_cases.c.id == return_lines.c.case_id)
            .group_by(
                return_cases.c.return_id,
                return_cases.c.order_ref,
                return_lines.c.line_id,
                credit_movements.c.sku,
                credit_movements.c.unit_amount,
                credit_movements.c.currency,
            )
        )
        if int(r.net)
    }
    accounts = {
        f"{r.account}/{r.currency}": int(r.net)
        for r in conn.execute(
            select(
                journal_lines.c.account,
                journal_entries.c.currency,
                func.sum(journal_lines.c.debit - journal_lines.c.credit).label("net"),
            )
            .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
            .group_by(journal_lines.c.account, journal_entries.c.currency)
        )
        if int(r.net)
    }
    open_exceptions = sorted(
        f"{_case_name(r.return_id, r.order_ref)}/{r.line_id}/{r.code}"
        for r in conn.execute(
            select(
                return_cases.c.return_id,
                return_cases.c.order_ref,
                exceptions.c.line_id,
                exceptions.c.code,
            )
            .join(return_cases, return_cases.c.id == exceptions.c.case_id)
            .where(exceptions.c.status == "open")
        )
    )
    cases = {
        _case_name(r.return_id, r.order_ref): (r.status, bool(r.provisional))
        for r in conn.execute(
            select(
                return_cases.c.return_id,
                return_cases.c.order_ref,
                return_cases.c.status,
                return_cases.c.provisional,
            )
        )
    }
    return {
        "lines": lines,
        "stock": stock,
        "accounts": accounts,
        "credits": credits,
        "open_exceptions": open_exceptions,
        "cases": cases,
    }
