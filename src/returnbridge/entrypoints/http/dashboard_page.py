"""The dashboard's page in plain words: what each figure, code and button means to someone who
has never seen the code. Builds the template's context from the read model
(``store/dashboard.py``); the routes and the sign-in are in ``dashboard.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from returnbridge.domain.auth import Role, may_resolve, roles_that_resolve
from returnbridge.domain.credits import AGE_BUCKETS, PendingCause
from returnbridge.domain.errors import ExceptionCode
from returnbridge.reports.html import Series, bar_chart, money, stacked_chart
from returnbridge.reports.tables import Kind
from returnbridge.services.access import Principal
from returnbridge.services.exceptions import AMAZON_CODES, STOCK_HOLD_CODES, Action
from returnbridge.services.ports import ExceptionRecord
from returnbridge.store.daily import ROUTES
from returnbridge.store.dashboard import DashboardFigures

RUNBOOK = "docs/operations.md"

MEANING: Mapping[str, str] = {
    ExceptionCode.UNKNOWN_SKU: "The product is not in the catalog master.",
    ExceptionCode.INACTIVE_SKU: "The product is marked inactive in the catalog master.",
    ExceptionCode.UNMAPPED_REASON: "ZigZag's return reason has no Amazon reason in the mappings.",
    ExceptionCode.UNMAPPED_DISPOSITION: "The disposition has no GL accounts in the mappings.",
    ExceptionCode.UNMAPPED_GRADE: "The grade has no route in the mappings.",
    ExceptionCode.UNMAPPED_CHARGE: "The charge type has no GL accounts in the mappings.",
    ExceptionCode.GRADE_DISPOSITION_CONFLICT: "The grade and the disposition send the units to "
    "different places.",
    ExceptionCode.QUANTITY_MISMATCH: "The unit counts of the line do not agree.",
    ExceptionCode.INVALID_EVENT: "An event could not be read.",
    ExceptionCode.PROCESSING_FAILED: "returnbridge failed while applying an event.",
    ExceptionCode.AMAZON_REJECTED: "Amazon refused the stock update or the credit note.",
    ExceptionCode.AMAZON_STUCK: "Amazon never confirmed the stock update or the credit note.",
    ExceptionCode.CREDIT_OVERSTATED: "Amazon holds more credit for the line than it owes.",
    ExceptionCode.RFS_NOT_RECEIVED: "Refunded at first scan; the goods have not arrived in time.",
    ExceptionCode.OVER_RETURN: "More units came back than Amazon approved for the order.",
    ExceptionCode.STOCK_SNAPSHOT_MISSING: "No stock snapshot from the WMS for products restocked "
    "at this Amazon warehouse: their stock is not sent.",
    ExceptionCode.STOCK_SNAPSHOT_STALE: "The WMS stock snapshot is too old: the warehouse's "
    "stock is not sent until a fresh one is imported.",
    ExceptionCode.STOCK_DROP_HELD: "The new stock figure is far below what Amazon last "
    "confirmed: check it and release it.",
    ExceptionCode.UNMAPPED_WAREHOUSE: "A ZigZag DC restocked units and has no Amazon warehouse "
    "in the warehouses file.",
}
"""Each exception code in one line (the runbook's table, docs/operations.md)."""

QUEUE_WORDS: Mapping[str, str] = {
    "inbox": "Events received, not applied yet",
    "amazon.inventory": "Stock changes for Amazon",
    "amazon.credit_note": "Credit notes for Amazon",
    "erp.journal": "Journal entries for the ERP",
    "erp.stock": "Stock adjustments for the ERP",
}
ROUTE_WORDS: Mapping[str, str] = {
    "restocked": "restocked",
    "written_off": "written off",
    "liquidated": "liquidated",
    "refurbished": "refurbished",
    "returned_to_vendor": "returned to vendor",
}
CAUSE_WORDS: Mapping[str, str] = {
    PendingCause.NOT_SENT: "not sent yet",
    PendingCause.AWAITING_AMAZON: "awaiting Amazon",
    PendingCause.AWAITING_REMITTANCE: "awaiting remittance",
    PendingCause.DISPUTED: "disputed",
}
SEVERITY_WORDS: Mapping[str, str] = {"critical": "look now", "warning": "look today"}


@dataclass(frozen=True)
class Button:
    """An action the signed-in person may take on one exception."""

    action: str  # the value ``Action`` takes: the form sends it
    label: str
    explains: str
    asks: bool  # opens a small panel first (a note; a second look before a write-off)
    note_required: bool


@dataclass(frozen=True)
class Runbook:
    label: str
    href: str | None  # None: no web address of the runbook is configured


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    code: str
    meaning: str
    where: str
    units: int
    age: str
    opened: str
    message: str
    runbook: Runbook
    buttons: tuple[Button, ...]
    who_may: str  # when the signed-in role may not act: who may


def age(since: datetime | None, now: datetime) -> str:
    """How long ago, in the largest unit that fits: '40 s', '12 min', '5 h', '3 d'."""
    if since is None:
        return "-"
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def utc(at: datetime | None) -> str:
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")


def runbook(anchor: str, base_url: str) -> Runbook:
    """Where a person reads what to do: a link when the runbook's web address is configured
    (``RETURNBRIDGE_ALERT_RUNBOOK_URL``), else its place in the docs."""
    anchor = anchor.lower()
    return Runbook(f"{RUNBOOK}#{anchor}", f"{base_url}#{anchor}" if base_url else None)


def _buttons(record: ExceptionRecord, offered: tuple[Action, ...]) -> tuple[Button, ...]:
    amazon = record.code in AMAZON_CODES
    found = []
    for action in offered:
        if action is Action.REPROCESS:
            explains = (
                "Send it to Amazon again at the next clearing cycle."
                if amazon
                else "Look at it again with today's catalog and mappings."
            )
            found.append(Button(action.value, "Retry", explains, False, False))
        elif action is Action.WRITE_OFF:
            explains = (
                f"Book the {record.units_received} unit(s) received on this line as written "
                "off. Use it when the goods cannot be sold and should not wait."
            )
            found.append(Button(action.value, "Write off", explains, True, False))
        elif action is Action.RELEASE:
            explains = (
                "Send this quantity to Amazon at the next clearing cycle: you checked it "
                "against the WMS and the drop is real."
            )
            found.append(Button(action.value, "Release", explains, True, False))
        else:
            if amazon:
                explains = "Close it without changing anything: Amazon keeps its copy as it is."
            elif record.code in STOCK_HOLD_CODES:
                explains = (
                    "Close it: the position stays held, and the next clearing cycle opens it "
                    "again while the cause is there. Say why: it goes in the audit log."
                )
            else:
                explains = "Close it without changing the line. Say why: it goes in the audit log."
            found.append(Button(action.value, "Ignore", explains, True, True))
    return tuple(found)


def exception_row(
    record: ExceptionRecord,
    offered: tuple[Action, ...],
    role: Role,
    now: datetime,
    runbook_url: str,
) -> ExceptionRow:
    allowed = may_resolve(role, record.code)
    where = (
        f"{record.return_id or record.case_key} line {record.line_id}"
        if record.line_id
        else (record.return_id or record.case_key or "no return (unreadable input)")
    )
    who = ", ".join(r.value for r in roles_that_resolve(record.code))
    return ExceptionRow(
        id=record.id,
        code=record.code,
        meaning=MEANING.get(record.code, "See the runbook."),
        where=where,
        units=record.units_received,
        age=age(record.created_at, now),
        opened=utc(record.created_at),
        message=record.message,
        runbook=runbook(record.code, runbook_url),
        buttons=_buttons(record, offered) if allowed else (),
        who_may="" if allowed else f"{who} may act",
    )


def _events(today: dict[str, Any], event_type: str) -> int:
    return sum(
        int(row["events"]) - int(row["unreadable"])
        for row in today["arrived"]["by_type"]
        if row["event_type"] == event_type
    )


def _credit_charts(credits: dict[str, Any]) -> list[Markup]:
    charts = []
    for currency, causes in sorted(credits["ageing"].items()):
        buckets = [name for name, _, _ in AGE_BUCKETS]
        series = [
            Series(CAUSE_WORDS.get(cause, cause), [int(causes[cause][b]) for b in buckets])
            for cause in causes
        ]
        charts.append(
            stacked_chart(
                f"Credit not cleared, {currency}, by days since the goods came back",
                [f"{b} days" for b in buckets],
                series,
                Kind.MONEY,
                width=600,
            )
        )
    return charts


def _credit_table(credits: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per currency and cause of money not cleared, by age bucket."""
    rows = []
    buckets = [name for name, _, _ in AGE_BUCKETS]
    for currency, causes in sorted(credits["ageing"].items()):
        for cause, by_bucket in causes.items():
            amounts = [int(by_bucket[b]) for b in buckets]
            if any(amounts):
                rows.append(
                    {
                        "cause": CAUSE_WORDS.get(cause, cause),
                        "currency": currency,
                        "amounts": [money(a) if a else "" for a in amounts],
                        "total": money(sum(amounts)),
                    }
                )
    return rows


def page_context(
    figures: DashboardFigures,
    principal: Principal,
    offered: Mapping[int, tuple[Action, ...]],
    *,
    runbook_url: str,
    schedule: str,
    next_cycle: datetime | None,
    code: str | None,
) -> dict[str, Any]:
    """The dashboard template's context."""
    now, today = figures.now, figures.today
    routes = today["processed"]["units_by_route"]
    open_by_code = figures.open_by_code
    credits = today["credits"]
    rows = [
        exception_row(r, offered.get(r.id, ()), principal.role, now, runbook_url)
        for r in figures.exceptions
    ]
    return {
        "now": utc(now),
        "runbook_linked": bool(runbook_url),
        "principal": principal,
        "flow": [
            ("Returns received", _events(today, "return.received"), "receipts ZigZag sent today"),
            ("Returns graded", _events(today, "return.graded"), "gradings ZigZag sent today"),
            ("Units restocked", routes["restocked"], "sellable again, for Amazon"),
            ("Units written off", routes["written_off"], "booked as a loss"),
        ],
        "arrived": today["arrived"],
        "open_count": figures.open_exceptions,
        "refusal_count": sum(figures.refusals.values()),
        "sync_count": sum(s.total for s in figures.syncs),
        "alert_count": len(figures.alerts),
        "alerts": [
            {
                "name": a.name,
                "severity": a.severity,
                "severity_words": SEVERITY_WORDS.get(a.severity, a.severity),
                "summary": a.summary,
                "since": age(a.first_seen, now),
                "runbook": runbook(a.runbook.partition("#")[2] or a.name, runbook_url),
            }
            for a in figures.alerts
        ],
        "codes": [
            {
                "code": c,
                "open": int(v["open"]),
                "oldest": age(datetime.fromisoformat(v["oldest_at"]), now),
                "meaning": MEANING.get(c, ""),
            }
            for c, v in sorted(open_by_code.items(), key=lambda kv: -int(kv[1]["open"]))
        ],
        "code": code,
        "rows": rows,
        "more_rows": figures.more_exceptions,
        "refusals": [
            exception_row(r, (), principal.role, now, runbook_url) for r in figures.refusals_listed
        ],
        "refusals_by_code": figures.refusals,
        "queues": [
            {
                "name": q.name,
                "words": QUEUE_WORDS.get(q.name, q.name),
                "waiting": q.waiting,
                "oldest": age(q.oldest_at, now) if q.waiting else "-",
            }
            for q in figures.queues
        ],
        "syncs": [
            {
                "words": QUEUE_WORDS.get(s.topic, s.topic),
                "not_sent": s.not_sent,
                "awaiting": s.awaiting,
                "oldest": age(s.oldest_at, now) if s.total else "-",
            }
            for s in figures.syncs
        ],
        "last_cycle": utc(figures.last_cycle_closed),
        "last_cycle_age": age(figures.last_cycle_closed, now),
        "schedule": schedule,
        "next_cycle": utc(next_cycle),
        "credit_totals": [
            {
                "currency": currency,
                "expected": money(expected),
                "credited": money(credits["credited"].get(currency, 0)),
                "pending": money(credits["pending"].get(currency, 0)),
                "disputed": money(credits["disputed"].get(currency, 0)),
            }
            for currency, expected in sorted(credits["credits_expected"].items())
        ],
        "credit_rows": _credit_table(credits),
        "buckets": [f"{name} days" for name, _, _ in AGE_BUCKETS],
        "charts": {
            "units": bar_chart(
                "Where today's units went",
                [(ROUTE_WORDS[r], int(routes[r])) for r in ROUTES],
                width=600,
            ),
            "codes": bar_chart(
                "Open exceptions by code",
                [(c, int(v["open"])) for c, v in sorted(open_by_code.items())],
                width=600,
                label_width=230,
            )
            if open_by_code
            else None,
            "credits": _credit_charts(credits),
        },
    }


__all__ = ["MEANING", "ExceptionRow", "age", "exception_row", "page_context", "runbook"]
