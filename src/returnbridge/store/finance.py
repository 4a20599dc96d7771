"""``SqlFinanceStore``: the facts finance reads (``services.finance.FinanceStore``), the ledger
totals the money invariants compare them with, and ``finance_figures`` for run summaries."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, func, select

from returnbridge.domain.credits import (
    AMOUNT_TOLERANCE,
    CreditMessage,
    LineCredit,
    Remittance,
    ReturnRequest,
    money_breaches,
)
from returnbridge.services.finance import credit_report, totals
from returnbridge.store.sql import SqlStore, aware
from returnbridge.store.tables import (
    amazon_remittance_lines,
    amazon_return_requests,
    amazon_submissions,
    catalog_items,
    credit_movements,
    exceptions,
    journal_entries,
    journal_lines,
    outbox,
    return_cases,
    return_lines,
)

CHUNK = 500  # keys per IN (...) list
AWAITING = ("sent", "stuck")  # submissions Amazon has and has not answered for good


def _chunks(keys: Sequence[Any]) -> list[list[Any]]:
    return [list(keys[i : i + CHUNK]) for i in range(0, len(keys), CHUNK)]


class SqlFinanceStore(SqlStore):
    """The SQL store, plus what finance reads."""

    def credit_lines(self) -> list[LineCredit]:
        cm = credit_movements
        owed: dict[tuple[int, str], tuple[int, int, str]] = {}
        for r in self.conn.execute(
            select(
                cm.c.line_ref,
                cm.c.currency,
                func.sum(cm.c.quantity * cm.c.unit_amount).label("amount"),
                func.sum(cm.c.quantity).label("units"),
                func.max(cm.c.sku).label("sku"),
            ).group_by(cm.c.line_ref, cm.c.currency)
        ):
            owed[(int(r.line_ref), r.currency)] = (int(r.amount), int(r.units), r.sku)
        messages: dict[tuple[int, str, str], list[CreditMessage]] = defaultdict(list)
        returned: dict[tuple[int, str, str], datetime] = {}
        skus: dict[tuple[int, str, str], str] = {}
        rows = self.conn.execute(
            select(
                outbox.c.payload,
                outbox.c.status,
                outbox.c.document,
                amazon_submissions.c.status.label("submission"),
            )
            .outerjoin(amazon_submissions, amazon_submissions.c.id == outbox.c.submission_id)
            .where(outbox.c.topic == "amazon.credit_note")
            .order_by(outbox.c.id)
        )
        for m in rows:
            payload = json.loads(m.payload)
            key = (int(payload["case"]), str(payload["line_id"]), str(payload["currency"]))
            amount = int(payload["quantity"]) * int(payload["unit_amount"])
            messages[key].append(
                CreditMessage(amount, m.status, m.document, m.submission in AWAITING)
            )
            skus.setdefault(key, payload["sku"])
            if payload.get("returned_at"):
                at = aware(datetime.fromisoformat(payload["returned_at"]))
                returned[key] = min(returned.get(key, at), at)
        line_refs = sorted({ref for ref, _ in owed})
        cases = sorted({case for case, _, _ in messages})
        currencies: dict[tuple[int, str], set[str]] = defaultdict(set)
        for case, line_id, currency in messages:
            currencies[(case, line_id)].add(currency)
        owed_in: dict[int, set[str]] = defaultdict(set)
        for ref, currency in owed:
            owed_in[ref].add(currency)
        found: list[LineCredit] = []
        seen: set[tuple[int, str, str]] = set()
        for r in self._lines(line_refs, cases):
            in_use = owed_in[int(r.id)] | currencies[(int(r.case_id), r.line_id)]
            if not in_use:
                continue
            for currency in sorted(in_use):
                key = (int(r.case_id), r.line_id, currency)
                if key in seen:
                    continue
                seen.add(key)
                amount, units, sku = owed.get((int(r.id), currency), (0, 0, ""))
                found.append(
                    LineCredit(
                        line_ref=int(r.id),
                        case_id=int(r.case_id),
                        reference=r.return_id or r.case_key,
                        line_id=r.line_id,
                        sku=sku or skus.get(key) or r.sku or "",
                        currency=currency,
                        expected=amount,
                        expected_units=units,
                        messages=tuple(messages.get(key, ())),
                        returned_at=returned.get(key),
                        order_ref=r.order_ref,
                        asin=r.asin,
                        rma_id=r.rma_id,
                    )
                )
        return found

    def _lines(self, line_refs: Sequence[int], cases: Sequence[int]) -> list[Any]:
        query = (
            select(
                return_lines.c.id,
                return_lines.c.case_id,
                return_lines.c.line_id,
                return_lines.c.sku,
                return_cases.c.return_id,
                return_cases.c.case_key,
                return_cases.c.order_ref,
                return_cases.c.rma_id,
                catalog_items.c.asin,
            )
            .join(return_cases, return_cases.c.id == return_lines.c.case_id)
            .outerjoin(catalog_items, catalog_items.c.sku == return_lines.c.sku)
        )
        rows: dict[int, Any] = {}
        for chunk in _chunks(line_refs):
            rows.update(
                (r.id, r) for r in self.conn.execute(query.where(return_lines.c.id.in_(chunk)))
            )
        for chunk in _chunks(cases):
            rows.update(
                (r.id, r) for r in self.conn.execute(query.where(return_lines.c.case_id.in_(chunk)))
            )
        return [rows[k] for k in sorted(rows)]

    def credit_remittances(self, numbers: Sequence[str]) -> list[Remittance]:
        rl = amazon_remittance_lines
        found: list[Remittance] = []
        for chunk in _chunks(numbers):
            rows = self.conn.execute(
                select(rl.c.payment_id, rl.c.document_number, rl.c.amount, rl.c.deductions_total)
                .where(rl.c.document_type == "credit_note", rl.c.document_number.in_(chunk))
                .order_by(rl.c.id)
            )
            found += [
                Remittance(r.payment_id, r.document_number, int(r.amount), int(r.deductions_total))
                for r in rows
            ]
        return found

    def return_requests(self, order_ids: Sequence[str]) -> list[ReturnRequest]:
        rr = amazon_return_requests
        found: list[ReturnRequest] = []
        for chunk in _chunks(order_ids):
            rows = self.conn.execute(
                select(rr).where(rr.c.order_id.in_(chunk)).order_by(rr.c.request_id)
            )
            found += [
                ReturnRequest(
                    r.request_id,
                    r.order_id,
                    r.asin,
                    int(r.quantity_requested),
                    int(r.quantity_approved),
                    r.rma_id,
                )
                for r in rows
            ]
        return found

    def ledger_credit_totals(self) -> dict[str, int]:
        cm = credit_movements
        rows = self.conn.execute(
            select(cm.c.currency, func.sum(cm.c.quantity * cm.c.unit_amount)).group_by(
                cm.c.currency
            )
        )
        return {str(c): int(v) for c, v in rows}

    def exception_exists(self, code: str, case_id: int, line_id: str) -> bool:
        found = self.conn.execute(
            select(exceptions.c.id)
            .where(
                exceptions.c.code == code,
                exceptions.c.case_id == case_id,
                exceptions.c.line_id == line_id,
            )
            .limit(1)
        ).first()
        return found is not None


def ledger_total_mismatches(conn: Connection) -> list[str]:
    """Per currency, the GL accounts' totals (each the sum of its journal lines) must net to
    zero: every debit has its credit across the ledger. Names the currency and its accounts."""
    per_account = conn.execute(
        select(
            journal_entries.c.currency,
            journal_lines.c.account,
            func.sum(journal_lines.c.debit).label("debit"),
            func.sum(journal_lines.c.credit).label("credit"),
        )
        .join(journal_entries, journal_entries.c.id == journal_lines.c.entry_id)
        .group_by(journal_entries.c.currency, journal_lines.c.account)
        .order_by(journal_entries.c.currency, journal_lines.c.account)
    ).all()
    by_currency: dict[str, list[Any]] = defaultdict(list)
    for r in per_account:
        by_currency[r.currency].append(r)
    found = []
    for currency, accounts in sorted(by_currency.items()):
        debit = sum(int(a.debit) for a in accounts)
        credit = sum(int(a.credit) for a in accounts)
        if debit != credit:
            listed = ", ".join(f"{a.account} {int(a.debit) - int(a.credit):+d}" for a in accounts)
            found.append(
                f"{currency}: GL account totals do not net to zero (debits {debit}, credits "
                f"{credit}): {listed}"
            )
    return found


class HasEngine(Protocol):
    @property
    def engine(self) -> Engine: ...


def finance_figures(
    source: Connection | Engine | HasEngine, tolerance: int = AMOUNT_TOLERANCE
) -> dict[str, Any]:
    """The credit figures of a database, in minor units per currency: ``credits_expected``,
    ``credited``, ``pending``, ``disputed``, ``over_credited``, ``lines_by_state``,
    ``money_breaches`` (a count) and ``money_invariants_ok``. Deterministic: no times, no ids."""
    if isinstance(source, Connection):
        return _figures(source, tolerance)
    engine = source if isinstance(source, Engine) else source.engine
    with engine.connect() as conn:
        return _figures(conn, tolerance)


def _figures(conn: Connection, tolerance: int) -> dict[str, Any]:
    store = SqlFinanceStore(conn)
    rows = credit_report(store, tolerance)
    breaches = money_breaches(rows, store.ledger_credit_totals(), tolerance)
    breaches += ledger_total_mismatches(conn)
    figures = totals(rows)
    figures["money_breaches"] = len(breaches)
    figures["money_invariants_ok"] = not breaches
    return figures


__all__ = ["SqlFinanceStore", "finance_figures", "ledger_total_mismatches"]
