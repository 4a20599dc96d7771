"""A return's timeline across both systems, for the API (``GET /api/returns/{id}``).

It puts in time order what ZigZag said (its events, at the time they happened), what
Amazon said and was told (refunds at first scan, the stock updates and credit notes sent for
the return's lines with Amazon's answers, the remittance lines that took its credit notes back,
its return requests and other refunds), what returnbridge booked (journal entries, exceptions)
and what people decided (exception actions). Each entry names its ``source``: ``zigzag``,
``amazon``, ``returnbridge`` or ``manual`` (a person). Entries at the same instant keep that
order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, literal, select

from returnbridge.store.sql import aware, aware_or_none
from returnbridge.store.tables import (
    amazon_remittance_lines,
    amazon_return_requests,
    amazon_standard_refunds,
    amazon_submissions,
    case_events,
    credit_movements,
    erp_export_messages,
    erp_exports,
    exception_actions,
    exceptions,
    inbox,
    journal_entries,
    journal_lines,
    outbox,
    return_lines,
    stock_movements,
)

OPERATIONS = {"inventory": "stock update", "credit_notes": "credit note"}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: str  # zigzag | amazon | returnbridge | manual
    kind: str
    summary: str
    line_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def case_timeline(
    conn: Connection, case_id: int, order_id: str | None
) -> tuple[TimelineEntry, ...]:
    """Everything known about one return case, oldest first (``order_id``: its Amazon order)."""
    entries = [
        *_events(conn, case_id),
        *_journals(conn, case_id),
        *_exceptions(conn, case_id),
    ]
    messages = _amazon_messages(conn, case_id)
    entries += _submissions(conn, messages)
    documents = sorted({m["document"] for m in messages if m["document"]})
    entries += _remittances(conn, documents)
    if order_id:
        entries += _amazon_order_facts(conn, order_id)
    entries.sort(key=lambda e: e.at)  # stable: entries at one instant keep their order
    return tuple(entries)


def _money(minor: int, currency: str) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d} {currency}"


def _event_summary(body: dict[str, Any]) -> str:
    kind = body["type"]
    lines = body.get("lines") or []
    described = "; ".join(
        f"line {f['line_id']}: "
        + ", ".join(
            f"{k} {f[k]}" for k in ("sku", "quantity", "reason", "grade", "disposition") if k in f
        )
        for f in lines
    )
    if refund := body.get("refund"):
        return (
            f"Amazon refunded order {refund['order_id']} at first scan: {refund['quantity']} x "
            f"{refund['sku']}, {_money(refund['amount'], refund['currency'])}"
        )
    if charge := body.get("charge"):
        return (
            f"ZigZag charged {charge['charge_type']} ({charge['charge_id']}): "
            f"{_money(charge['amount'], charge['currency'])}"
        )
    if override := body.get("override"):
        return (
            f"{override['actor']}'s decision applied to line {override['line_id']}: "
            f"{override['action']}" + (f" ({override['note']})" if override.get("note") else "")
        )
    what = kind.removeprefix("return.").replace("_", " ")
    return f"ZigZag: {what}" + (f" ({described})" if described else "")


def _events(conn: Connection, case_id: int) -> list[TimelineEntry]:
    rows = conn.execute(
        select(inbox.c.source, inbox.c.event_id, inbox.c.received_at, case_events.c.body)
        .join(inbox, inbox.c.id == case_events.c.inbox_id)
        .where(case_events.c.case_id == case_id)
        .order_by(case_events.c.id)
    )
    found = []
    for r in rows:
        body = json.loads(r.body)
        lines = body.get("lines") or []
        detail = {k: v for k, v in body.items() if k not in ("source", "type", "occurred_at")}
        detail["received_at"] = aware(r.received_at).isoformat()
        found.append(
            TimelineEntry(
                at=datetime.fromisoformat(body["occurred_at"]),
                source=r.source,
                kind=body["type"],
                summary=_event_summary(body),
                line_id=lines[0]["line_id"] if len(lines) == 1 else None,
                detail=detail,
            )
        )
    return found


def _journals(conn: Connection, case_id: int) -> list[TimelineEntry]:
    debit = (
        select(func.coalesce(func.sum(journal_lines.c.debit), 0))
        .where(journal_lines.c.entry_id == journal_entries.c.id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            journal_entries,
            return_lines.c.line_id,
            debit.label("amount"),
            erp_exports.c.batch_key,
            erp_exports.c.status.label("batch_status"),
        )
        .join(return_lines, return_lines.c.id == journal_entries.c.line_ref)
        .outerjoin(
            outbox, outbox.c.message_key == literal("journal/") + journal_entries.c.entry_key
        )
        .outerjoin(erp_export_messages, erp_export_messages.c.outbox_id == outbox.c.id)
        .outerjoin(erp_exports, erp_exports.c.id == erp_export_messages.c.export_id)
        .where(return_lines.c.case_id == case_id)
        .order_by(journal_entries.c.id)
    )
    return [
        TimelineEntry(
            at=aware(r.posted_at),
            source="returnbridge",
            kind=f"journal.{r.kind}",
            summary=f"journal {r.entry_key} posted ({_money(int(r.amount), r.currency)}): {r.memo}",
            line_id=r.line_id,
            detail={
                "entry_key": r.entry_key,
                "kind": r.kind,
                "amount_minor": int(r.amount),
                "currency": r.currency,
                "erp_batch": r.batch_key,
                "erp_batch_status": r.batch_status,
            },
        )
        for r in rows
    ]


def _exceptions(conn: Connection, case_id: int) -> list[TimelineEntry]:
    found = []
    raised = conn.execute(
        select(exceptions).where(exceptions.c.case_id == case_id).order_by(exceptions.c.id)
    ).all()
    for r in raised:
        ref = {"exception_id": r.id, "code": r.code}
        found.append(
            TimelineEntry(
                aware(r.created_at),
                "returnbridge",
                "exception.raised",
                f"{r.code} raised (exception {r.id}): {r.message}",
                r.line_id,
                ref,
            )
        )
        if r.resolved_at is not None:
            found.append(
                TimelineEntry(
                    aware(r.resolved_at),
                    "returnbridge",
                    f"exception.{r.status}",
                    f"{r.code} {r.status} (exception {r.id}) by {r.resolved_by} "
                    f"({r.resolution}): {r.resolution_note or ''}".rstrip(": "),
                    r.line_id,
                    ref,
                )
            )
    codes = {r.id: (r.code, r.line_id) for r in raised}
    if codes:
        for a in conn.execute(
            select(exception_actions)
            .where(exception_actions.c.exception_id.in_(list(codes)))
            .order_by(exception_actions.c.id)
        ):
            code, line_id = codes[a.exception_id]
            found.append(
                TimelineEntry(
                    aware(a.at),
                    "manual",
                    "exception.action",
                    f"{a.actor} chose {a.action} on exception {a.exception_id} ({code})"
                    + (f": {a.note}" if a.note else ""),
                    line_id,
                    {"exception_id": a.exception_id, "code": code, **json.loads(a.detail)},
                )
            )
    return found


def _amazon_messages(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    """The outbox messages for Amazon that this return's lines caused, with their submission."""
    found: list[dict[str, Any]] = []
    for table, prefix in ((stock_movements, "stock/"), (credit_movements, "credit/")):
        rows = conn.execute(
            select(outbox, return_lines.c.line_id.label("line"))
            .join(table, outbox.c.message_key == literal(prefix) + table.c.movement_key)
            .join(return_lines, return_lines.c.id == table.c.line_ref)
            .where(return_lines.c.case_id == case_id)
            .order_by(outbox.c.id)
        )
        for r in rows:
            found.append(
                {
                    "outbox_id": r.id,
                    "topic": r.topic,
                    "status": r.status,
                    "line_id": r.line,
                    "document": r.document,
                    "submission_id": r.submission_id,
                    "created_at": aware(r.created_at),
                    "payload": json.loads(r.payload),
                }
            )
    return found


def _item(message: dict[str, Any]) -> dict[str, Any]:
    p = message["payload"]
    item = {"line_id": message["line_id"], "sku": p["sku"], "message_status": message["status"]}
    if message["topic"] == "amazon.inventory":
        item.update(warehouse=p["warehouse"], delta=p["delta"])
    else:
        item.update(
            credit_note=message["document"],
            quantity=p["quantity"],
            amount_minor=int(p["quantity"]) * int(p["unit_amount"]),
            currency=p["currency"],
        )
    return item


def _submissions(conn: Connection, messages: list[dict[str, Any]]) -> list[TimelineEntry]:
    found = []
    for m in messages:
        if m["submission_id"] is None:
            what = "stock change" if m["topic"] == "amazon.inventory" else "credit"
            state = (
                "waiting for the next clearing cycle" if m["status"] == "pending" else m["status"]
            )
            found.append(
                TimelineEntry(
                    m["created_at"],
                    "returnbridge",
                    f"{m['topic']}.{m['status']}",
                    f"{what} for Amazon: {state}",
                    m["line_id"],
                    _item(m),
                )
            )
    ids = sorted({m["submission_id"] for m in messages if m["submission_id"] is not None})
    if not ids:
        return found
    items: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for m in messages:
        if m["submission_id"] is not None:
            items[m["submission_id"]].append(_item(m))
    for s in conn.execute(select(amazon_submissions).where(amazon_submissions.c.id.in_(ids))):
        what = OPERATIONS.get(s.operation, s.operation)
        mine = items[s.id]
        lines = sorted({i["line_id"] for i in mine})
        detail = {
            "submission_id": s.id,
            "cycle_id": s.cycle_id,
            "operation": s.operation,
            "transaction_id": s.transaction_id,
            "status": s.status,
            "items_in_request": s.item_count,
            "items": mine,
            "prepared_at": s.prepared_at and aware(s.prepared_at).isoformat(),
            "sent_at": s.sent_at and aware(s.sent_at).isoformat(),
            "final_at": s.final_at and aware(s.final_at).isoformat(),
            "errors": json.loads(s.errors) if s.errors else [],
        }
        sent = aware_or_none(s.sent_at)
        found.append(
            TimelineEntry(
                sent or aware(s.prepared_at),
                "amazon",
                f"{s.operation}.{'sent' if sent else 'prepared'}",
                f"{what} {'sent to' if sent else 'prepared for'} Amazon in cycle {s.cycle_id}"
                + (f" (transaction {s.transaction_id})" if s.transaction_id else "")
                + f" for line(s) {', '.join(lines)}: now {s.status}",
                lines[0] if len(lines) == 1 else None,
                detail,
            )
        )
        if s.final_at is not None:
            found.append(
                TimelineEntry(
                    aware(s.final_at),
                    "amazon",
                    f"{s.operation}.{s.status}",
                    f"Amazon's answer to the {what} of cycle {s.cycle_id}: {s.status}",
                    lines[0] if len(lines) == 1 else None,
                    detail,
                )
            )
    return found


def _remittances(conn: Connection, documents: Sequence[str]) -> list[TimelineEntry]:
    if not documents:
        return []
    rows = conn.execute(
        select(amazon_remittance_lines)
        .where(amazon_remittance_lines.c.document_number.in_(list(documents)))
        .order_by(amazon_remittance_lines.c.id)
    )
    return [
        TimelineEntry(
            aware(r.paid_at),
            "amazon",
            "remittance",
            f"Amazon's payment {r.payment_id} took credit note {r.document_number} back: "
            f"{_money(r.amount, r.currency)}"
            + (
                f", {_money(r.deductions_total, r.currency)} deducted" if r.deductions_total else ""
            ),
            None,
            {
                "payment_id": r.payment_id,
                "credit_note": r.document_number,
                "amount_minor": r.amount,
                "currency": r.currency,
                "deductions": json.loads(r.deductions),
            },
        )
        for r in rows
    ]


def _amazon_order_facts(conn: Connection, order_id: str) -> list[TimelineEntry]:
    found = []
    requests = amazon_return_requests
    for r in conn.execute(select(requests).where(requests.c.order_id == order_id)):
        found.append(
            TimelineEntry(
                aware(r.requested_at),
                "amazon",
                "return_request",
                f"Amazon return request {r.request_id}: {r.quantity_requested} x {r.asin} "
                f"requested, {r.quantity_approved} approved ({r.condition})",
                None,
                {
                    "request_id": r.request_id,
                    "asin": r.asin,
                    "rma_id": r.rma_id,
                    "refund_minor": r.refund_amount,
                    "currency": r.currency,
                },
            )
        )
    refunds = amazon_standard_refunds
    for r in conn.execute(select(refunds).where(refunds.c.order_id == order_id)):
        found.append(
            TimelineEntry(
                aware(r.refunded_at),
                "amazon",
                "refund",
                f"Amazon refunded {r.quantity} x {r.asin}: {_money(r.amount, r.currency)}",
                None,
                {
                    "refund_id": r.refund_id,
                    "asin": r.asin,
                    "amount_minor": r.amount,
                    "currency": r.currency,
                },
            )
        )
    return found


__all__ = ["TimelineEntry", "case_timeline"]
