"""The pre-go-live audit's tables: a summary, one sheet per gap listing exactly the items it
counts, and sheets for what only looks like a gap (another amount, not due yet) and for the
inputs. ``reports/audit.py`` writes them as the workbook and inside the page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from returnbridge.domain.audit import Standing
from returnbridge.domain.audit_gaps import Journalled
from returnbridge.reports.audit_detail import InputFile, detail_tables, money_of
from returnbridge.reports.tables import Column, Kind, Table
from returnbridge.services.audit import AuditResult

GAPS = (
    ("no_credit", "1", "Returns with no credit"),
    ("credit_without_return", "2", "Credits with no physical return"),
    ("stranded_stock", "3", "Sellable units never made sellable again"),
    ("write_downs_not_journalled", "4", "Write-downs never journalled"),
    ("unmapped_codes", "5", "Unmapped SKUs and codes"),
    ("rfs_without_receipt", "6", "Refunds at first scan with no receipt"),
    ("receipt_to_credit_days", "7", "Days from receipt to credit"),
)


def _days(since: datetime | None, result: AuditResult) -> int | None:
    return None if since is None else (result.settings.as_of - since.date()).days


def _summary(result: AuditResult, figures: dict[str, Any]) -> Table:
    g = figures["gaps"]
    rows: list[list[Any]] = []

    def add(key: str, counted: str, count: Any, lines: Any, units: Any, amounts: Any) -> None:
        _, number, title = next(x for x in GAPS if x[0] == key)
        text = rule(key, result)
        for currency, amount in sorted((amounts or {"": None}).items()):
            cells = [f"{number} {title}", counted, count, lines, units, amount, currency or None]
            rows.append([*cells, None, None, text])

    gap = g["no_credit"]
    add("no_credit", "returns", gap["returns"], gap["lines"], None, gap["amount"])
    gap = g["credit_without_return"]
    add("credit_without_return", "credit notes", gap["credit_notes"], None, None, gap["amount"])
    gap = g["stranded_stock"]
    add("stranded_stock", "lines", gap["lines"], gap["lines"], gap["units"], gap["value"])
    gap = g["write_downs_not_journalled"]
    if gap["assessed"]:
        add(
            "write_downs_not_journalled",
            "write-downs",
            gap["write_downs"],
            None,
            None,
            gap["amount"],
        )
    else:
        add("write_downs_not_journalled", "not assessed (no ledger)", None, None, None, None)
    gap = g["unmapped_codes"]
    add("unmapped_codes", "codes", gap["codes"], gap["lines"], gap["units"], None)
    gap = g["rfs_without_receipt"]
    units = sum(r.quantity for r in result.rfs_not_received)
    add("rfs_without_receipt", "refunds", gap["refunds"], None, units, gap["amount"])
    gap = g["receipt_to_credit_days"]
    rows.append(
        [
            "7 Days from receipt to credit",
            "returns credited",
            gap["returns"],
            None,
            None,
            None,
            None,
            gap["median"],
            gap["p90"],
            rule("receipt_to_credit_days", result),
        ]
    )
    return Table(
        "Summary",
        "The seven gaps",
        [
            Column("gap", width=40),
            Column("counted in", width=18),
            Column("count", Kind.INT),
            Column("lines", Kind.INT),
            Column("units", Kind.INT),
            Column("amount", Kind.MONEY),
            Column("currency", width=9),
            Column("median days", Kind.DAYS, width=12),
            Column("p90 days", Kind.DAYS, width=10),
            Column("rule", width=90),
        ],
        rows,
        note=f"As of {result.settings.as_of.isoformat()}. Money in the catalog currency; each "
        "sheet lists exactly the items its gap counts.",
    )


def _window(result: AuditResult) -> str:
    return f"{result.settings.window_days} days"


def sentence(text: str) -> str:
    """A rule as a sentence of its own: capitalised (its acronyms kept)."""
    return text[:1].upper() + text[1:]


def rule(key: str, result: AuditResult) -> str:
    """The rule of a gap (or of the receipt-to-credit figure), in one sentence."""
    window = _window(result)
    rules = {
        "no_credit": "a received return whose lines owe credit (units x catalog unit cost on "
        "every line the engine closed) and that no remittance credit-note line names, received "
        f"more than {window} before the as-of date",
        "credit_without_return": "a remittance credit-note line whose document number and "
        "description name no received return (by return id, RMA or VRET id, or order id with "
        "ASIN)",
        "stranded_stock": "received units of a sellable grade whose ZigZag disposition routes "
        f"elsewhere, is unknown to the mappings, or is missing {window} after receipt; valued "
        "at catalog unit cost",
        "write_downs_not_journalled": "a write-off journal the engine posts whose return no GL "
        "line on the write-down account names"
        + ("" if result.ledger_given else ": not assessed, no --ledger was given"),
        "unmapped_codes": "SKUs the catalog does not know and reason, grade, disposition and "
        "charge codes the mappings do not know, most lines first, then most units",
        "rfs_without_receipt": "a refund at first scan whose goods had not reached the warehouse "
        f"{result.settings.rfs_window_days} days after the refund (the engine's RFS sweep)",
        "receipt_to_credit_days": "calendar days from a return's first receipt to the first "
        "remittance crediting it; median and 90th percentile as Excel's PERCENTILE.INC",
    }
    return rules[key]


def _no_credit(result: AuditResult) -> Table:
    rows = [
        [
            s.ret.reference,
            s.ret.order_ref,
            s.ret.rma_id,
            x.line_id,
            x.sku,
            x.units,
            x.received_at,
            _days(s.ret.received_at, result),
            x.credit,
            x.currency,
        ]
        for s in result.no_credit
        for x in s.ret.lines
        if x.credit > 0
    ]
    return Table(
        "1 No credit",
        "1. Returns with no credit",
        [
            Column("return", width=16),
            Column("order", width=20),
            Column("RMA", width=14),
            Column("line", width=6),
            Column("SKU", width=18),
            Column("units", Kind.INT),
            Column("received", Kind.DATETIME, width=17),
            Column("days since", Kind.INT),
            Column("credit owed", Kind.MONEY),
            Column("currency", width=9),
        ],
        rows,
        note=sentence(rule("no_credit", result)) + ".",
        total=("units", "credit owed"),
    )


def _credit_without_return(result: AuditResult) -> Table:
    rows = [
        [
            m.credit.payment_id,
            m.credit.paid_at.date(),
            m.credit.line_no,
            m.credit.document_number,
            m.credit.description,
            m.credit.amount,
            m.credit.currency,
            m.why,
        ]
        for m in result.credits_without_return
    ]
    return Table(
        "2 Credit no return",
        "2. Credits with no physical return",
        [
            Column("payment", width=12),
            Column("paid", Kind.DATE, width=11),
            Column("line", Kind.INT, width=6),
            Column("document", width=18),
            Column("description", width=36),
            Column("credit", Kind.MONEY),
            Column("currency", width=9),
            Column("why", width=60),
        ],
        rows,
        note=sentence(rule("credit_without_return", result)) + ".",
        total=("credit",),
    )


def _stranded(result: AuditResult) -> Table:
    rows = [
        [
            s.ret.reference,
            s.line.line_id,
            s.line.sku or s.line.sku_scanned,
            s.line.grade,
            s.line.disposition,
            s.why.value + (f" ({s.route})" if s.route else ""),
            s.line.units,
            s.line.unit_cost,
            s.value,
            s.line.currency,
            s.line.received_at,
        ]
        for s in result.stranded
    ]
    return Table(
        "3 Stranded stock",
        "3. Sellable units never made sellable again",
        [
            Column("return", width=16),
            Column("line", width=6),
            Column("SKU", width=18),
            Column("grade", width=6),
            Column("disposition", width=12),
            Column("why", width=40),
            Column("units", Kind.INT),
            Column("unit cost", Kind.MONEY),
            Column("value", Kind.MONEY),
            Column("currency", width=9),
            Column("received", Kind.DATETIME, width=17),
        ],
        rows,
        note=sentence(rule("stranded_stock", result)) + ".",
        total=("units", "value"),
    )


def _write_downs(result: AuditResult) -> Table:
    wanted = (Journalled.NOT_JOURNALLED,) if result.ledger_given else (Journalled.NOT_ASSESSED,)
    rows = [
        [
            w.ret.reference,
            w.write_down.line_id,
            w.write_down.sku,
            w.write_down.units,
            w.write_down.account,
            w.write_down.amount,
            w.write_down.currency,
            w.ret.received_at,
            w.standing.value,
        ]
        for w in result.journalled(*wanted)
    ]
    note = sentence(rule("write_downs_not_journalled", result)) + "."
    if not result.ledger_given:
        note += " Listed: every write-down the files imply, to check against the ledger."
    return Table(
        "4 Write-downs",
        "4. Write-downs never journalled",
        [
            Column("return", width=16),
            Column("line", width=6),
            Column("SKU", width=18),
            Column("units", Kind.INT),
            Column("account", width=24),
            Column("write-down", Kind.MONEY),
            Column("currency", width=9),
            Column("received", Kind.DATETIME, width=17),
            Column("standing", width=30),
        ],
        rows,
        note=note,
        total=("units", "write-down"),
    )


def _unmapped(result: AuditResult) -> Table:
    rows = [
        [n, c.kind.value, c.code, c.lines, c.units, c.returns, ", ".join(c.examples)]
        for n, c in enumerate(result.unmapped, start=1)
    ]
    return Table(
        "5 Unmapped codes",
        "5. Unmapped SKUs and codes, by volume",
        [
            Column("rank", Kind.INT, width=6),
            Column("kind", width=12),
            Column("code", width=18),
            Column("lines", Kind.INT),
            Column("units", Kind.INT),
            Column("returns", Kind.INT),
            Column("for example", width=50),
        ],
        rows,
        note=sentence(rule("unmapped_codes", result)) + ". Units: received, else registered.",
        total=("lines", "units"),
    )


def _rfs(result: AuditResult) -> Table:
    rows = [
        [
            r.refund_id,
            r.order_id,
            r.asin,
            r.quantity,
            r.amount,
            r.currency,
            r.refunded_at,
            _days(r.refunded_at, result),
        ]
        for r in result.rfs_not_received
    ]
    return Table(
        "6 RFS no receipt",
        "6. Refunds at first scan with no warehouse receipt",
        [
            Column("refund", width=20),
            Column("order", width=20),
            Column("ASIN", width=12),
            Column("units", Kind.INT),
            Column("refunded", Kind.MONEY),
            Column("currency", width=9),
            Column("refunded at", Kind.DATETIME, width=17),
            Column("days since", Kind.INT),
        ],
        rows,
        note=sentence(rule("rfs_without_receipt", result)) + ".",
        total=("units", "refunded"),
    )


def _receipt_to_credit(result: AuditResult) -> Table:
    rows = []
    for s in result.standings:
        if s.days_to_credit is None:
            continue
        expected, currency = money_of(s, s.expected)
        credited, _ = money_of(s, s.credited)
        if s.standing is Standing.NOT_COMPARED:
            expected = None  # a line is held: what it owes is not known
        rows.append(
            [
                s.ret.reference,
                s.ret.received_at,
                s.first_paid.date() if s.first_paid else None,
                s.days_to_credit,
                len(s.credits),
                expected,
                credited,
                currency,
                s.standing.value,
            ]
        )
    return Table(
        "7 Receipt to credit",
        "7. Days from receipt to credit, per return credited",
        [
            Column("return", width=16),
            Column("received", Kind.DATETIME, width=17),
            Column("first credit paid", Kind.DATE, width=12),
            Column("days", Kind.INT),
            Column("credit notes", Kind.INT),
            Column("owed", Kind.MONEY),
            Column("credited", Kind.MONEY),
            Column("currency", width=9),
            Column("standing", width=34),
        ],
        rows,
        note=sentence(rule("receipt_to_credit_days", result))
        + ". 'Owed' is blank where a line of the return is held by an exception: its credit is "
        "decided once the line is mapped.",
    )


def audit_tables(result: AuditResult, inputs: Sequence[InputFile] = ()) -> list[Table]:
    """The report's tables, in sheet order."""
    return [
        _summary(result, result.figures()),
        _no_credit(result),
        _credit_without_return(result),
        _stranded(result),
        _write_downs(result),
        _unmapped(result),
        _rfs(result),
        _receipt_to_credit(result),
        *detail_tables(result, inputs),
    ]
