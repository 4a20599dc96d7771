"""``SqlAuditFacts``: what the engine made of historical exports (``services.audit.AuditFacts``),
and ``latest_fact_time``, the latest date the imported files hold.

Read-only. Every figure comes from the tables the production pipeline writes: return cases and
lines, the credit ledger (``credit_movements``), journal entries and lines, exception records,
and the Amazon export facts. A line's receipt time is not a column: it is re-derived from the
case's events with the pipeline's own fold (``domain/returns.py``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, and_, func, select

from returnbridge.domain.audit import AuditLine, AuditReturn, CreditNote
from returnbridge.domain.audit_gaps import CodeKind, RfsRefund, UnmappedUse, WriteDown
from returnbridge.domain.audit_matching import AmazonRequest
from returnbridge.domain.codec import event_from_dict
from returnbridge.domain.errors import ExceptionCode
from returnbridge.domain.mappings import Route
from returnbridge.domain.money import parse_minor_units
from returnbridge.domain.returns import fold_case
from returnbridge.store.sql import aware
from returnbridge.store.tables import (
    amazon_remittance_lines,
    amazon_return_requests,
    amazon_standard_refunds,
    case_events,
    catalog_items,
    credit_movements,
    exceptions,
    inbox,
    journal_entries,
    journal_lines,
    return_cases,
    return_lines,
)

UNMAPPED: dict[str, CodeKind] = {
    ExceptionCode.UNKNOWN_SKU: CodeKind.SKU,
    ExceptionCode.UNMAPPED_REASON: CodeKind.REASON,
    ExceptionCode.UNMAPPED_GRADE: CodeKind.GRADE,
    ExceptionCode.UNMAPPED_DISPOSITION: CodeKind.DISPOSITION,
    ExceptionCode.UNMAPPED_CHARGE: CodeKind.CHARGE,
}
RFS_TYPE = "refund.first_scan"
STREAM = 1_000  # case events fetched per round trip while folding


class SqlAuditFacts:
    """Implements ``services.audit.AuditFacts`` over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _receipts(self) -> dict[tuple[int, str], datetime]:
        """When each line was first scanned at the warehouse, folded case by case."""
        found: dict[tuple[int, str], datetime] = {}
        rows = self.conn.execution_options(yield_per=STREAM).execute(
            select(case_events.c.case_id, case_events.c.body).order_by(
                case_events.c.case_id, case_events.c.id
            )
        )
        for case_id, group in groupby(rows, key=lambda r: int(r.case_id)):
            events = [event_from_dict(json.loads(r.body)) for r in group]
            for line_id, line in fold_case(str(case_id), events).lines.items():
                if line.received_at is not None:
                    found[(case_id, line_id)] = aware(line.received_at)
        return found

    def returns(self) -> list[AuditReturn]:
        cm = credit_movements
        owed: dict[int, tuple[int, str]] = {}
        for r in self.conn.execute(
            select(cm.c.line_ref, cm.c.currency, func.sum(cm.c.quantity * cm.c.unit_amount))
            .group_by(cm.c.line_ref, cm.c.currency)
            .order_by(cm.c.line_ref, cm.c.currency)
        ):
            owed[int(r[0])] = (int(r[2]), str(r[1]))
        receipts = self._receipts()
        rl, ci = return_lines, catalog_items
        lines: dict[int, list[AuditLine]] = defaultdict(list)
        for r in self.conn.execute(
            select(rl, ci.c.asin, ci.c.unit_cost, ci.c.currency)
            .outerjoin(ci, ci.c.sku == rl.c.sku)
            .where(rl.c.kind == "product")
            .order_by(rl.c.case_id, rl.c.line_id)
        ):
            credit, currency = owed.get(int(r.id), (0, r.currency))
            lines[int(r.case_id)].append(
                AuditLine(
                    line_id=r.line_id,
                    units=int(r.units_received),
                    status=r.status,
                    sku_scanned=r.sku_scanned,
                    sku=r.sku,
                    asin=r.asin,
                    grade=r.grade,
                    disposition=r.disposition,
                    credit=credit,
                    currency=currency,
                    unit_cost=None if r.unit_cost is None else int(r.unit_cost),
                    received_at=receipts.get((int(r.case_id), r.line_id)),
                )
            )
        rc = return_cases
        return [
            AuditReturn(
                case_id=int(r.id),
                reference=r.return_id or r.case_key,
                status=r.status,
                return_id=r.return_id,
                order_ref=r.order_ref,
                rma_id=r.rma_id,
                lines=tuple(lines.get(int(r.id), ())),
            )
            for r in self.conn.execute(select(rc).order_by(rc.c.id))
        ]

    def credit_notes(self) -> list[CreditNote]:
        rl = amazon_remittance_lines
        rows = self.conn.execute(
            select(rl).where(rl.c.document_type == "credit_note").order_by(rl.c.id)
        )
        return [
            CreditNote(
                r.payment_id,
                int(r.line_no),
                r.document_number,
                r.description or "",
                -int(r.amount),
                r.currency,
                aware(r.paid_at),
            )
            for r in rows
        ]

    def return_requests(self) -> list[AmazonRequest]:
        rr = amazon_return_requests
        return [
            AmazonRequest(r.request_id, r.order_id, r.asin, r.rma_id)
            for r in self.conn.execute(select(rr).order_by(rr.c.id))
        ]

    def write_downs(self) -> list[WriteDown]:
        je, jl, rl = journal_entries, journal_lines, return_lines
        reversed_ids = select(je.c.reverses_id).where(je.c.reverses_id.is_not(None))
        rows = self.conn.execute(
            select(
                je.c.entry_key,
                je.c.currency,
                rl.c.case_id,
                rl.c.line_id,
                rl.c.sku,
                rl.c.units_written_off,
                jl.c.account,
                jl.c.debit,
            )
            .join(rl, rl.c.id == je.c.line_ref)
            .join(jl, jl.c.entry_id == je.c.id)
            .where(
                je.c.kind == "disposition",
                je.c.reverses_id.is_(None),
                je.c.id.not_in(reversed_ids),
                rl.c.route == Route.WRITE_OFF.value,
                jl.c.debit > 0,
            )
            .order_by(je.c.id, jl.c.id)
        )
        return [
            WriteDown(
                int(r.case_id),
                r.line_id,
                r.sku,
                int(r.units_written_off),
                r.account,
                int(r.debit),
                r.currency,
                r.entry_key,
            )
            for r in rows
        ]

    def unmapped(self) -> list[UnmappedUse]:
        ex, rc, rl = exceptions, return_cases, return_lines
        rows = self.conn.execute(
            select(
                ex.c.code,
                ex.c.line_id,
                rc.c.return_id,
                rc.c.case_key,
                rl.c.kind,
                rl.c.sku_scanned,
                rl.c.reason,
                rl.c.grade,
                rl.c.disposition,
                rl.c.units_received,
                rl.c.expected_qty,
            )
            .join(rc, rc.c.id == ex.c.case_id)
            .join(rl, and_(rl.c.case_id == ex.c.case_id, rl.c.line_id == ex.c.line_id))
            .where(ex.c.status == "open", ex.c.code.in_(list(UNMAPPED)))
            .order_by(ex.c.id)
        )
        found = []
        for r in rows:
            kind = UNMAPPED[r.code]
            code = {
                CodeKind.SKU: r.sku_scanned,
                CodeKind.REASON: r.reason,
                CodeKind.GRADE: r.grade,
                CodeKind.DISPOSITION: r.disposition,
                CodeKind.CHARGE: r.disposition,  # a charge line keeps its type there
            }[kind]
            units = int(r.units_received) or int(r.expected_qty or 0)
            if r.kind != "product":
                units = 0
            reference = r.return_id or r.case_key
            found.append(UnmappedUse(kind, code or "", reference, r.line_id or "", units))
        return found

    def rfs_refunds(self) -> list[RfsRefund]:
        received = {
            int(r[0])
            for r in self.conn.execute(
                select(return_lines.c.case_id).where(return_lines.c.units_received > 0).distinct()
            )
        }
        flagged = {
            int(r[0])
            for r in self.conn.execute(
                select(exceptions.c.case_id).where(
                    exceptions.c.code == ExceptionCode.RFS_NOT_RECEIVED.value,
                    exceptions.c.status == "open",
                )
            )
        }
        rows = self.conn.execute(
            select(case_events.c.case_id, inbox.c.payload)
            .join(inbox, inbox.c.id == case_events.c.inbox_id)
            .where(inbox.c.source == "amazon", inbox.c.event_type == RFS_TYPE)
            .order_by(inbox.c.id)
        )
        found = []
        for r in rows:
            p = json.loads(r.payload)
            case_id = int(r.case_id)
            found.append(
                RfsRefund(
                    refund_id=p["id"],
                    case_id=case_id,
                    order_id=p["orderId"],
                    asin=p["asin"],
                    quantity=int(p["quantity"]),
                    amount=parse_minor_units(p["amount"]),
                    currency=p["currency"],
                    refunded_at=_moment(p["refundedAt"]),
                    received=case_id in received,
                    flagged=case_id in flagged,
                )
            )
        return found

    def unreadable(self) -> list[str]:
        rows = self.conn.execute(
            select(exceptions.c.message)
            .where(exceptions.c.code == ExceptionCode.INVALID_EVENT.value)
            .order_by(exceptions.c.id)
        )
        return [str(r[0]) for r in rows]


def _moment(text: str) -> datetime:
    return aware(datetime.fromisoformat(text.replace("Z", "+00:00"))).astimezone(UTC)


def _inbox_times(conn: Connection) -> Iterator[datetime]:
    """The partner's own time of every readable event waiting in the inbox."""
    rows = conn.execution_options(yield_per=STREAM).execute(
        select(inbox.c.payload).where(inbox.c.status == "pending").order_by(inbox.c.id)
    )
    for (payload,) in rows:
        try:
            data: Any = json.loads(payload)
            text = data.get("occurredAt") or data.get("refundedAt")
            if isinstance(text, str):
                yield _moment(text)
        except (ValueError, AttributeError):
            continue  # an unreadable row: it dates nothing


def latest_fact_time(conn: Connection) -> datetime | None:
    """The latest date-time the imported files hold: ZigZag's events and Amazon's refunds at
    first scan (read before processing, from the inbox), return requests, standard refunds and
    remittance payments. None for files with no dated fact."""
    found = list(_inbox_times(conn))
    for column in (
        amazon_return_requests.c.requested_at,
        amazon_standard_refunds.c.refunded_at,
        amazon_remittance_lines.c.paid_at,
    ):
        value = conn.execute(select(func.max(column))).scalar()
        if value is not None:
            found.append(aware(value))
    return max(found, default=None)


__all__ = ["SqlAuditFacts", "latest_fact_time"]
