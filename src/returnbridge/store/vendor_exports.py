"""``SqlVendorExportStore``: Amazon's export facts (``services.vendor_exports.VendorExportStore``).

Return requests, standard refunds and remittance lines, each in its table under its natural
key. A key already stored is not written again: the stored fact is handed back so the service
can tell a duplicate from a conflict.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, select, tuple_

from returnbridge.domain.money import Money
from returnbridge.services.vendor_exports import (
    AmazonFact,
    Deduction,
    RemittanceLine,
    ReturnRequest,
    StandardRefund,
)
from returnbridge.store.sql import SqlStore, aware, transaction
from returnbridge.store.tables import (
    amazon_remittance_lines,
    amazon_return_requests,
    amazon_standard_refunds,
)

Key = tuple[str | int, ...]
CHUNK = 300  # keys per lookup: well under every driver's limit on bound parameters


def _request_row(f: ReturnRequest) -> dict[str, Any]:
    return {
        "request_id": f.request_id,
        "vendor_code": f.vendor_code,
        "order_id": f.order_id,
        "asin": f.asin,
        "quantity_requested": f.quantity_requested,
        "quantity_approved": f.quantity_approved,
        "refund_amount": f.refund.amount,
        "currency": f.refund.currency,
        "condition": f.condition,
        "requested_at": f.requested_at,
        "rma_id": f.rma_id,
    }


def _request(r: Any) -> ReturnRequest:
    return ReturnRequest(
        r.request_id,
        r.vendor_code,
        r.order_id,
        r.asin,
        r.quantity_requested,
        r.quantity_approved,
        Money(int(r.refund_amount), r.currency),
        r.condition,
        aware(r.requested_at),
        r.rma_id,
    )


def _refund_row(f: StandardRefund) -> dict[str, Any]:
    return {
        "refund_id": f.refund_id,
        "order_id": f.order_id,
        "asin": f.asin,
        "quantity": f.quantity,
        "amount": f.amount.amount,
        "currency": f.amount.currency,
        "refunded_at": f.refunded_at,
    }


def _refund(r: Any) -> StandardRefund:
    return StandardRefund(
        r.refund_id,
        r.order_id,
        r.asin,
        r.quantity,
        Money(int(r.amount), r.currency),
        aware(r.refunded_at),
    )


def _remittance_row(f: RemittanceLine) -> dict[str, Any]:
    return {
        "payment_id": f.payment_id,
        "document_number": f.document_number,
        "line_no": f.line_no,
        "document_type": f.document_type,
        "amount": f.amount.amount,
        "currency": f.amount.currency,
        "paid_at": f.paid_at,
        "deductions": json.dumps([{"type": d.type, "amount": d.amount} for d in f.deductions]),
        "deductions_total": f.deductions_total,
        "description": f.description,
    }


def _remittance(r: Any) -> RemittanceLine:
    return RemittanceLine(
        r.payment_id,
        r.document_number,
        r.line_no,
        r.document_type,
        Money(int(r.amount), r.currency),
        aware(r.paid_at),
        tuple(Deduction(d["type"], int(d["amount"])) for d in json.loads(r.deductions)),
        r.description,
    )


@dataclass(frozen=True)
class _Mapping:
    table: Table
    key: tuple[str, ...]
    to_row: Callable[[Any], dict[str, Any]]
    from_row: Callable[[Any], AmazonFact]


_MAPPINGS: dict[str, _Mapping] = {
    ReturnRequest.kind: _Mapping(amazon_return_requests, ("request_id",), _request_row, _request),
    StandardRefund.kind: _Mapping(amazon_standard_refunds, ("refund_id",), _refund_row, _refund),
    RemittanceLine.kind: _Mapping(
        amazon_remittance_lines,
        ("payment_id", "document_number", "line_no"),
        _remittance_row,
        _remittance,
    ),
}


class SqlVendorExportStore(SqlStore):
    """The SQL store, plus the tables of Amazon's export facts."""

    def add_amazon_facts(
        self, facts: Sequence[AmazonFact], now: datetime
    ) -> list[AmazonFact | None]:
        held: list[AmazonFact | None] = [None] * len(facts)
        by_kind: dict[str, list[int]] = {}
        for index, fact in enumerate(facts):
            by_kind.setdefault(fact.kind, []).append(index)
        for kind, indices in by_kind.items():
            mapping = _MAPPINGS[kind]
            known = self._known(mapping, list(dict.fromkeys(facts[i].key for i in indices)))
            fresh: dict[Key, AmazonFact] = {}
            for index in indices:
                fact = facts[index]
                if fact.key in known:
                    held[index] = known[fact.key]
                elif fact.key in fresh:
                    held[index] = fresh[fact.key]  # twice in one batch: the first stands
                else:
                    fresh[fact.key] = fact
            if fresh:
                self.conn.execute(
                    mapping.table.insert(),
                    [{**mapping.to_row(f), "imported_at": now} for f in fresh.values()],
                )
        return held

    def _known(self, mapping: _Mapping, keys: list[Key]) -> dict[Key, AmazonFact]:
        columns = [mapping.table.c[name] for name in mapping.key]
        target = columns[0] if len(columns) == 1 else tuple_(*columns)
        found: dict[Key, AmazonFact] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            values = [k[0] for k in chunk] if len(columns) == 1 else chunk
            for row in self.conn.execute(select(mapping.table).where(target.in_(values))):
                fact = mapping.from_row(row)
                found[fact.key] = fact
        return found

    def amazon_facts(self, kind: str) -> list[AmazonFact]:
        """Every stored fact of one kind (``ReturnRequest.kind`` ...), in import order."""
        mapping = _MAPPINGS[kind]
        rows = self.conn.execute(select(mapping.table).order_by(mapping.table.c.id))
        return [mapping.from_row(r) for r in rows]


@contextmanager
def vendor_export_transaction(engine: Engine) -> Iterator[SqlVendorExportStore]:
    """One unit of work for an export import."""
    with transaction(engine) as store:
        yield SqlVendorExportStore(store.conn)


__all__ = ["SqlVendorExportStore", "vendor_export_transaction"]
