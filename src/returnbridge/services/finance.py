"""Finance use cases: where every return line's credit stands, over-returns, and the money check.

The store gathers the facts (the credit ledger, the outbox messages that carry it to Amazon,
Vendor Central's remittances and return requests); ``domain/credits.py`` decides. Reading is
side-effect free; only ``open_over_returns`` writes (``OVER_RETURN`` exception records, once per
line).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from returnbridge.domain.credits import (
    AMOUNT_TOLERANCE,
    CreditRow,
    LineCredit,
    Remittance,
    ReturnRequest,
    credit_rows,
    money_breaches,
    over_returns,
)
from returnbridge.domain.errors import ExceptionCode


class FinanceStore(Protocol):
    """The store as finance reads it (and the one write: exception records)."""

    def credit_lines(self) -> list[LineCredit]:
        """Every return line with a credit movement or a credit message, per currency."""
        ...

    def credit_remittances(self, numbers: Sequence[str]) -> list[Remittance]:
        """Remittance lines of type credit note for these credit-note numbers."""
        ...

    def return_requests(self, order_ids: Sequence[str]) -> list[ReturnRequest]: ...

    def ledger_credit_totals(self) -> dict[str, int]:
        """Credit expected per currency, summed from the credit movements on their own."""
        ...

    def exception_exists(self, code: str, case_id: int, line_id: str) -> bool: ...

    def add_exception(
        self,
        code: str,
        message: str,
        raw: str,
        now: datetime,
        case_id: int | None = None,
        line_id: str | None = None,
        inbox_id: int | None = None,
    ) -> int: ...


def _facts(
    store: FinanceStore,
) -> tuple[list[LineCredit], list[Remittance], list[ReturnRequest]]:
    lines = store.credit_lines()
    numbers = sorted({m.document for x in lines for m in x.messages if m.document})
    orders = sorted({x.order_ref for x in lines if x.order_ref})
    return lines, store.credit_remittances(numbers), store.return_requests(orders)


def credit_report(store: FinanceStore, tolerance: int = AMOUNT_TOLERANCE) -> list[CreditRow]:
    """One row per return line that owes credit (or has Amazon-side credit), never fewer."""
    lines, remittances, requests = _facts(store)
    return credit_rows(lines, remittances, requests, tolerance)


def open_over_returns(store: FinanceStore, now: datetime) -> int:
    """Open ``OVER_RETURN`` on every line of an order and ASIN that received more units than
    Amazon approved; a line that has had one (open or closed) is not flagged again. Returns how
    many were opened."""
    lines, _, requests = _facts(store)
    opened = 0
    for finding in over_returns(lines, requests):
        for line in finding.lines:
            if store.exception_exists(ExceptionCode.OVER_RETURN, line.case_id, line.line_id):
                continue
            raw = json.dumps(
                {
                    "order_id": finding.order_id,
                    "asin": finding.asin,
                    "received": finding.received,
                    "approved": finding.approved,
                    "requested": finding.requested,
                    "requests": list(finding.requests),
                    "line_units": line.expected_units,
                }
            )
            message = f"return {line.reference} line {line.line_id}: {finding.message}"
            store.add_exception(
                ExceptionCode.OVER_RETURN,
                message,
                raw,
                now,
                case_id=line.case_id,
                line_id=line.line_id,
            )
            opened += 1
    return opened


def credit_breaches(store: FinanceStore, tolerance: int = AMOUNT_TOLERANCE) -> list[str]:
    """Every breach of "credit expected = credited + pending + disputed", named."""
    return money_breaches(credit_report(store, tolerance), store.ledger_credit_totals(), tolerance)


def totals(rows: Sequence[CreditRow]) -> dict[str, Any]:
    """The figures of a set of rows: amounts per currency (minor units), lines per state."""
    sums: dict[str, dict[str, int]] = {
        k: defaultdict(int)
        for k in ("credits_expected", "credited", "pending", "disputed", "over_credited")
    }
    for row in rows:
        currency = row.line.currency
        sums["credits_expected"][currency] += row.line.expected
        sums["credited"][currency] += row.credited
        sums["pending"][currency] += row.pending
        sums["disputed"][currency] += row.disputed
        sums["over_credited"][currency] += row.over_credited
    figures: dict[str, Any] = {k: dict(sorted(v.items())) for k, v in sums.items()}
    figures["lines_by_state"] = dict(sorted(Counter(r.state.value for r in rows).items()))
    return figures


__all__ = [
    "FinanceStore",
    "credit_breaches",
    "credit_report",
    "open_over_returns",
    "totals",
]
