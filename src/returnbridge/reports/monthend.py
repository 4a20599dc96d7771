"""The month-end close report: one XLSX workbook and one offline HTML page with the same figures.

The figures come from ``store/monthend.py``, which says which stored time keys each of them;
this module lays them out as report tables (a summary, one sheet per credit state, GL account
totals, aged pending credits, exceptions open at close) and writes both files. The page adds
charts: units by route, credit by state, ageing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sqlalchemy import Connection, Engine

from returnbridge.domain.credits import AGE_BUCKETS, CreditRow, CreditState, PendingCause
from returnbridge.reports.html import Series, bar_chart, money, render, stacked_chart, table_html
from returnbridge.reports.tables import Column, Kind, Table
from returnbridge.reports.workbook import write_workbook
from returnbridge.services.alerts import RUNBOOK
from returnbridge.store.finance import HasEngine
from returnbridge.store.monthend import UNIT_PLACES, MonthEndFigures, month_end_figures

WORDS = {
    "written_off": "written off",
    "returned_to_vendor": "returned to vendor",
    "in_exception": "held by an exception",
    "pending": "not routed yet",
    "partially_matched": "partially matched",
    "over_credited": "over-credited",
    "not_sent": "not sent",
    "awaiting_amazon": "awaiting Amazon",
    "awaiting_remittance": "awaiting remittance",
}
STATE_SHEETS = {
    CreditState.MATCHED: "Matched",
    CreditState.PARTIALLY_MATCHED: "Partially matched",
    CreditState.UNMATCHED: "Unmatched",
    CreditState.OVER_CREDITED: "Over-credited",
    CreditState.DISPUTED: "Disputed",
}
MONEY_FIGURES = (
    ("credits_expected", "credit expected"),
    ("credited", "credited"),
    ("pending", "pending"),
    ("disputed", "disputed"),
    ("over_credited", "over-credited"),
)


def words(key: str) -> str:
    return WORDS.get(key, key.replace("_", " "))


def runbook(code: str) -> str:
    """Where a person reads what an exception code means and what to do about it."""
    return f"{RUNBOOK}#{code.lower()}"


def _utc(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def notes(f: MonthEndFigures) -> list[str]:
    """What the period means and which stored time keys each figure: on the page and in the
    summary sheet alike."""
    p = f.period
    close = (
        f"The close is the period end, {_utc(p.close)}."
        if p.ended
        else f"The month had not ended when the report was made: the close is that moment, "
        f"{_utc(p.close)}."
    )
    return [
        f"Period: the UTC month {p.month}, from {_utc(p.start)} up to, not including, "
        f"{_utc(p.end)}. {close}",
        "Credit lines and their states: every return line with a credit movement recorded before "
        "the close (credit_movements.created_at). The credit ledger keeps no history of a line's "
        "state, so each line's figures and state are as they stand when the report was made "
        f"({_utc(p.generated_at)}), not as they stood at the close; credited counts every "
        "remittance imported by then, whatever its payment date.",
        "Money invariants, per currency: each line's credit expected = credited + pending + "
        "disputed; the lines add up to the credit ledger of the same lines; and the GL accounts "
        "of the month net to zero.",
        "GL account totals and journal counts: the journal lines of the entries posted in the "
        "month (journal_entries.posted_at).",
        "Aged pending credits: the money of those lines not cleared, by days from the goods' "
        "return to the warehouse to the close.",
        "Units by route: product return lines last changed in the month "
        "(return_lines.updated_at), where their units stand now; a line changed again in a later "
        "month counts there. Booked to sellable stock: the stock ledger's movements created in "
        "the month (stock_movements.created_at).",
        "Exceptions open at close: created before the close and not resolved by it "
        "(exceptions.created_at, exceptions.resolved_at); age in whole days to the close.",
    ]


SUMMARY_COLUMNS = (
    Column("section", width=12),
    Column("figure", width=34),
    Column("currency", width=9),
    Column("amount", Kind.MONEY),
    Column("count", Kind.INT),
    Column("at", Kind.DATETIME, width=17),
    Column("note", width=90),
)


def _line(
    section: str,
    figure: str | None,
    currency: str | None = None,
    amount: int | None = None,
    count: int | None = None,
    at: datetime | None = None,
    note: str | None = None,
) -> list[Any]:
    """One summary row (``SUMMARY_COLUMNS``): each figure in the column of its kind."""
    return [section, figure, currency, amount, count, at, note]


def _summary(f: MonthEndFigures) -> Table:
    p = f.period
    rows = [
        _line("period", "month", note=p.month),
        _line("period", "period start (included)", at=p.start),
        _line("period", "period end (excluded)", at=p.end),
        _line(
            "period",
            "close",
            at=p.close,
            note="the period end"
            if p.ended
            else "when the report was made: the month had not ended",
        ),
        _line("period", "generated at", at=p.generated_at),
    ]
    if not f.credit_rows:
        rows.append(_line("credits", "no credit", note="no return line owed credit at the close"))
    for currency in f.currencies:
        for key, label in MONEY_FIGURES:
            rows.append(_line("credits", label, currency, amount=f.credits[key].get(currency, 0)))
        ok = f.money_ok.get(currency, True)
        note = "hold" if ok else "do NOT hold"
        rows.append(_line("credits", "money invariants", currency, note=note))
    for state, n in f.lines_by_state.items():
        rows.append(_line("credits", f"lines {words(state)}", count=n))
    for currency in f.currencies:
        entries, lines = f.journal_entries.get(currency, 0), f.journal_lines.get(currency, 0)
        rows.append(_line("journals", "entries posted", currency, count=entries))
        rows.append(_line("journals", "journal lines posted", currency, count=lines))
    if not f.gl_totals:
        rows.append(_line("journals", "entries posted", count=0))
    rows.append(_line("units", "product lines changed", count=f.lines_changed))
    for place in UNIT_PLACES:
        rows.append(_line("units", words(place), count=f.units_by_route[place]))
    received = sum(f.units_by_route.values())
    rows.append(_line("units", "received (all of the above)", count=received))
    rows.append(
        _line("units", "booked to sellable stock", count=f.stock_booked, note="the stock ledger")
    )
    rows.append(_line("exceptions", "open at close", count=len(f.open_exceptions)))
    for code, n in f.open_by_code().items():
        rows.append(_line("exceptions", f"open at close: {code}", count=n, note=runbook(code)))
    rows += [_line("note", None, note=text) for text in notes(f)]
    return Table(
        name="Summary",
        title=f"Month-end close {p.month}: summary",
        columns=SUMMARY_COLUMNS,
        rows=rows,
    )


CREDIT_COLUMNS = (
    Column("return", width=16),
    Column("line", width=8),
    Column("SKU", width=18),
    Column("currency", width=9),
    Column("units", Kind.INT),
    Column("returned", Kind.DATE, width=11),
    Column("credit expected", Kind.MONEY),
    Column("credited", Kind.MONEY),
    Column("pending", Kind.MONEY),
    Column("disputed", Kind.MONEY),
    Column("over-credited", Kind.MONEY),
    Column("not cleared because", width=22),
    Column("credit notes", width=14),
    Column("payments", width=14),
)


CREDIT_TOTALS = ("units", "credit expected", "credited", "pending", "disputed", "over-credited")


def _credit_row(row: CreditRow) -> list[Any]:
    line = row.line
    causes = [(words(c.value), a) for c, a in row.causes.items() if a]
    because = causes[0][0] if len(causes) == 1 else "; ".join(f"{c} {money(a)}" for c, a in causes)
    return [
        line.reference,
        line.line_id,
        line.sku,
        line.currency,
        line.expected_units,
        line.returned_at.date() if line.returned_at else None,
        line.expected,
        row.credited,
        row.pending,
        row.disputed,
        row.over_credited,
        because,
        ", ".join(row.documents),
        ", ".join(row.payments),
    ]


def _states(f: MonthEndFigures) -> list[Table]:
    tables = []
    for state, name in STATE_SHEETS.items():
        rows = [_credit_row(r) for r in f.credit_rows if r.state is state]
        tables.append(
            Table(
                name=name,
                title=f"Credit lines {words(state.value)}",
                columns=CREDIT_COLUMNS,
                rows=rows,
                note=f"{len(rows)} line(s), as they stand when the report was made.",
                total=CREDIT_TOTALS,
            )
        )
    return tables


def _gl(f: MonthEndFigures) -> Table:
    return Table(
        name="GL account totals",
        title="GL account totals of the month",
        columns=[
            Column("currency", width=9),
            Column("account", width=32),
            Column("debit", Kind.MONEY),
            Column("credit", Kind.MONEY),
            Column("net", Kind.MONEY),
        ],
        rows=[[t.currency, t.account, t.debit, t.credit, t.net] for t in f.gl_totals],
        note="Journal lines of the entries posted in the month; net = debit - credit.",
        total=["debit", "credit", "net"],
    )


def _ageing(f: MonthEndFigures) -> Table:
    buckets = [name for name, _, _ in AGE_BUCKETS]
    rows = []
    for currency, causes in sorted(f.ageing.items()):
        for cause in PendingCause:
            amounts = [causes[cause.value][b] for b in buckets]
            rows.append([currency, words(cause.value), *amounts, sum(amounts)])
    return Table(
        name="Aged pending credits",
        title="Credit not cleared, by cause and age",
        columns=[
            Column("currency", width=9),
            Column("cause", width=22),
            *[Column(f"{b} days", Kind.MONEY) for b in buckets],
            Column("total", Kind.MONEY),
        ],
        rows=rows,
        note="Days from the goods' return to the warehouse to the close.",
        total=[*[f"{b} days" for b in buckets], "total"],
    )


def _exceptions(f: MonthEndFigures) -> Table:
    return Table(
        name="Open exceptions at close",
        title="Exceptions open at close",
        columns=[
            Column("id", width=8),
            Column("code", width=22),
            Column("return", width=16),
            Column("line", width=8),
            Column("created", Kind.DATETIME, width=17),
            Column("age (days)", Kind.INT),
            Column("message", width=80),
            Column("runbook", width=36),
        ],
        rows=[
            [
                str(e.id),
                e.code,
                e.reference,
                e.line_id,
                e.created_at,
                e.age_days,
                e.message,
                runbook(e.code),
            ]
            for e in f.open_exceptions
        ],
        note="Created before the close and not resolved by it; age in whole days to the close.",
    )


def _credit_notes(f: MonthEndFigures) -> Table:
    """Every credit-note number given in the month, first to last, and each one voided: a VAT
    reader can account for every number (docs/finance.md#credit-note-numbers)."""
    rows: list[list[Any]] = [
        ["series", s.series, f"{s.first} to {s.last}", None, None, s.numbered, None, None,
         f"{s.voided} voided"]
        for s in f.credit_note_series
    ]  # fmt: skip
    rows += [
        ["voided", v.number, v.voided_by, v.currency, v.total, None, v.issued_at, v.voided_at,
         v.reason]
        for v in f.voided_notes
    ]  # fmt: skip
    return Table(
        name="Credit notes",
        title="Credit-note numbers",
        columns=[
            Column("row", width=8),
            Column("series or number", width=22),
            Column("numbers, or voided by", width=34),
            Column("currency", width=9),
            Column("amount", Kind.MONEY),
            Column("numbered", Kind.INT),
            Column("dated", Kind.DATETIME, width=17),
            Column("voided", Kind.DATETIME, width=17),
            Column("note", width=60),
        ],
        rows=rows,
        note="Each series' numbers given in the month run without a gap; a voided note keeps its "
        "number and date, with who voided it and why.",
    )


def month_end_tables(f: MonthEndFigures) -> list[Table]:
    """The report, table by table (a sheet each in the workbook, a section each on the page)."""
    return [_summary(f), *_states(f), _gl(f), _ageing(f), _exceptions(f), _credit_notes(f)]


def _cards(f: MonthEndFigures) -> list[dict[str, Any]]:
    cards = []
    for currency in f.currencies:
        items = [
            (label, money(f.credits[k].get(currency, 0), currency)) for k, label in MONEY_FIGURES
        ]
        cards.append({"currency": currency, "items": items, "ok": f.money_ok.get(currency, True)})
    return cards


def _charts(f: MonthEndFigures) -> list[Markup]:
    charts = [
        bar_chart(
            "Units by route (lines changed in the month)",
            [(words(p), f.units_by_route[p]) for p in UNIT_PLACES],
        )
    ]
    for currency in sorted(f.ageing):
        rows = [r for r in f.credit_rows if r.line.currency == currency]
        labels: list[str] = []
        parts: dict[str, list[int]] = {"credited": [], "pending": [], "disputed": []}
        for state in STATE_SHEETS:
            mine = [r for r in rows if r.state is state]
            labels.append(f"{words(state.value)} ({len(mine)})")
            parts["credited"].append(sum(r.credited for r in mine))
            parts["pending"].append(sum(r.pending for r in mine))
            parts["disputed"].append(sum(r.disputed for r in mine))
        charts.append(
            stacked_chart(
                f"Credit by state, {currency} (number of lines)",
                labels,
                [Series(name, values) for name, values in parts.items()],
                Kind.MONEY,
            )
        )
        buckets = [name for name, _, _ in AGE_BUCKETS]
        causes = f.ageing[currency]
        charts.append(
            stacked_chart(
                f"Not cleared, by days since the goods came back, {currency}",
                buckets,
                [Series(words(c), [causes[c][b] for b in buckets]) for c in causes],
                Kind.MONEY,
            )
        )
    return charts


def month_end_html(f: MonthEndFigures, tables: Sequence[Table]) -> str:
    """The page: headline figures, how to read it, charts, then every table."""
    return render(
        "month_end.html.j2",
        period=f.period,
        utc=_utc,
        empty=f.empty,
        cards=_cards(f),
        open_exceptions=len(f.open_exceptions),
        notes=notes(f),
        charts=_charts(f),
        tables=[(t, table_html(t)) for t in tables],
    )


@dataclass(frozen=True)
class MonthEndFiles:
    xlsx: Path
    html: Path
    figures: MonthEndFigures


def write_month_end(
    source: Connection | Engine | HasEngine, month: date, out: Path, now: datetime
) -> MonthEndFiles:
    """Write ``month-end-YYYY-MM.xlsx`` and ``.html`` for the UTC month of ``month`` into
    ``out``, closed at the month's end or at ``now`` if it has not ended. Refuses (ValueError)
    a month that has not started."""
    if isinstance(source, Connection):
        figures = month_end_figures(source, month, now)
    else:
        engine = source if isinstance(source, Engine) else source.engine
        with engine.connect() as conn:
            figures = month_end_figures(conn, month, now)
    tables = month_end_tables(figures)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"month-end-{figures.period.month}"
    xlsx = write_workbook(out / f"{stem}.xlsx", tables)
    html = out / f"{stem}.html"
    html.write_text(month_end_html(figures, tables), encoding="utf-8")
    return MonthEndFiles(xlsx, html, figures)


__all__ = [
    "MonthEndFiles",
    "month_end_html",
    "month_end_tables",
    "notes",
    "write_month_end",
]
