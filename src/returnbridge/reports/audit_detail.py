"""The audit's supporting sheets: every credit-note line and what it names, what was found at
another amount, what is not due yet, and the inputs. None of them counts a gap."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from returnbridge.domain.audit import ReturnCredit, Standing
from returnbridge.domain.audit_gaps import Journalled
from returnbridge.reports.tables import Column, Kind, Table
from returnbridge.services.audit import AuditResult


@dataclass(frozen=True)
class InputFile:
    """One file the audit read, and what its import made of it."""

    kind: str
    name: str
    accepted: int
    duplicates: int = 0
    unreadable: int = 0


def money_of(row: ReturnCredit, which: dict[str, int]) -> tuple[int | None, str | None]:
    currency = next(iter(sorted(set(row.expected) | set(row.credited))), None)
    return (which.get(currency, 0) if currency else None), currency


def _credit_notes(result: AuditResult) -> Table:
    by_case = {r.case_id: r.reference for r in result.returns}
    rows = [
        [
            m.credit.payment_id,
            m.credit.paid_at.date(),
            m.credit.line_no,
            m.credit.document_number,
            m.credit.description,
            m.credit.amount,
            m.credit.currency,
            by_case.get(m.case_id) if m.case_id is not None else None,
            m.why,
        ]
        for m in result.matches
    ]
    return Table(
        "Credit notes",
        "Every remittance credit-note line, and the return it names",
        [
            Column("payment", width=12),
            Column("paid", Kind.DATE, width=11),
            Column("line", Kind.INT, width=6),
            Column("document", width=18),
            Column("description", width=36),
            Column("credit", Kind.MONEY),
            Column("currency", width=9),
            Column("return", width=16),
            Column("matched by", width=60),
        ],
        rows,
        note="Matched by the first rule that names a received return: return id, RMA id, "
        "RMA id of an Amazon return request (order + ASIN), order id (+ ASIN).",
        total=("credit",),
    )


def _differences(result: AuditResult) -> Table:
    rows: list[list[Any]] = []
    for s in result.standing(Standing.OTHER_AMOUNT):
        expected, currency = money_of(s, s.expected)
        credited, _ = money_of(s, s.credited)
        notes = ", ".join(c.document_number for c in s.credits)
        gap = (credited or 0) - (expected or 0)
        rows.append(["credit", s.ret.reference, None, expected, credited, gap, currency, notes])
    for w in result.journalled(Journalled.OTHER_AMOUNT):
        wd = w.write_down
        gap = w.journalled - wd.amount
        journals = ", ".join(w.journals)
        rows.append(
            ["write-down", w.ret.reference, wd.line_id, wd.amount, w.journalled, gap,
             wd.currency, journals]
        )  # fmt: skip
    return Table(
        "Differences",
        "Found, but at another amount (not counted as gaps)",
        [
            Column("what", width=12),
            Column("return", width=16),
            Column("line", width=6),
            Column("should be", Kind.MONEY),
            Column("found", Kind.MONEY),
            Column("difference", Kind.MONEY),
            Column("currency", width=9),
            Column("documents", width=40),
        ],
        rows,
        note=f"Outside the tolerance of {result.settings.tolerance} minor unit(s) per line. A "
        "write-down's 'found' is the net of every ledger line on its account naming its return.",
    )


def _not_yet_due(result: AuditResult) -> Table:
    rows: list[list[Any]] = []
    for s in result.standing(Standing.NOT_YET_DUE):
        owed, currency = money_of(s, s.expected)
        rows.append(["credit", s.ret.reference, None, s.ret.received_at, owed, currency])
    for x in result.stranded_waiting:
        line = x.line
        rows.append(
            ["restock disposition", x.ret.reference, line.line_id, line.received_at, x.value,
             line.currency]
        )  # fmt: skip
    for r in result.rfs_waiting:
        rows.append(["receipt after RFS", r.order_id, None, r.refunded_at, r.amount, r.currency])
    for w in result.journalled(Journalled.NOT_YET_DUE):
        wd = w.write_down
        rows.append(
            ["write-down journal", w.ret.reference, wd.line_id, w.ret.received_at, wd.amount,
             wd.currency]
        )  # fmt: skip
    return Table(
        "Not yet due",
        "Not gaps yet: still within their window on the as-of date",
        [
            Column("waiting for", width=20),
            Column("return or order", width=20),
            Column("line", width=6),
            Column("since", Kind.DATETIME, width=17),
            Column("amount", Kind.MONEY),
            Column("currency", width=9),
        ],
        rows,
        note="Credits, restock dispositions and write-down journals have "
        f"{result.settings.window_days} days from receipt; a refund at first scan has "
        f"{result.settings.rfs_window_days} days. Amount: the credit owed, the units' value, "
        "the refund or the write-down.",
    )


def _inputs(result: AuditResult, inputs: Sequence[InputFile]) -> list[Table]:
    files = Table(
        "Inputs",
        "The files read",
        [
            Column("file", width=30),
            Column("kind", width=24),
            Column("rows or events", Kind.INT),
            Column("duplicates", Kind.INT),
            Column("unreadable", Kind.INT),
        ],
        [[f.name, f.kind, f.accepted, f.duplicates, f.unreadable] for f in inputs],
        note="Unreadable rows are left out of every gap: correct them and run the audit again.",
    )
    unreadable = Table(
        "Unreadable rows",
        "Rows the audit could not read",
        [Column("why", width=120)],
        [[why] for why in result.unreadable],
    )
    return [files, unreadable]


def detail_tables(result: AuditResult, inputs: Sequence[InputFile]) -> list[Table]:
    return [
        _credit_notes(result),
        _differences(result),
        _not_yet_due(result),
        *_inputs(result, inputs),
    ]
