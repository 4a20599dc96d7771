"""The pre-go-live audit as ``audit.html``, ``audit.xlsx`` and ``audit.json``, from one result.

The tables are built once (``reports/audit_tables.py``) and written both as the workbook and
inside the page, and ``audit.json`` holds ``AuditResult.figures``, so the three files always
carry the same figures.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from returnbridge.reports.audit_detail import InputFile
from returnbridge.reports.audit_tables import GAPS, audit_tables, rule
from returnbridge.reports.html import bar_chart, money, render, table_html
from returnbridge.reports.tables import Kind, Table
from returnbridge.reports.workbook import write_workbook
from returnbridge.services.audit import AuditResult

DAY_BUCKETS = ((0, 7), (8, 14), (15, 21), (22, 30), (31, 60), (61, None))


@dataclass(frozen=True)
class AuditFiles:
    html: Path
    xlsx: Path
    json: Path


def _amount_text(amounts: dict[str, int] | None) -> str:
    if not amounts:
        return ""
    return " · " + ", ".join(money(v, c) for c, v in sorted(amounts.items()))


def _cards(figures: dict[str, Any]) -> list[tuple[str, str]]:
    g = figures["gaps"]
    w = g["write_downs_not_journalled"]
    days = g["receipt_to_credit_days"]

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    def count(gap: dict[str, Any], key: str, noun: str, amount: str = "amount") -> str:
        return f"{gap[key]} {noun}{_amount_text(gap.get(amount))}"

    unmapped = g["unmapped_codes"]
    return [
        ("1 returns with no credit", count(g["no_credit"], "returns", "returns")),
        ("2 credits with no return", count(g["credit_without_return"], "credit_notes", "notes")),
        ("3 stranded sellable units", count(g["stranded_stock"], "units", "units", "value")),
        (
            "4 write-downs not journalled",
            count(w, "write_downs", "write-downs") if w["assessed"] else "not assessed",
        ),
        ("5 unmapped codes", f"{unmapped['codes']} codes · {unmapped['lines']} lines"),
        ("6 RFS with no receipt", count(g["rfs_without_receipt"], "refunds", "refunds")),
        (
            "7 receipt to credit",
            f"median {number(days['median'])} · p90 {number(days['p90'])} days",
        ),
    ]


def _charts(result: AuditResult, figures: dict[str, Any]) -> list[Markup]:
    g = figures["gaps"]
    amounts = {
        "1 no credit": g["no_credit"]["amount"],
        "2 credit, no return": g["credit_without_return"]["amount"],
        "3 stranded stock": g["stranded_stock"]["value"],
        "4 not journalled": g["write_downs_not_journalled"]["amount"] or {},
        "6 RFS, no receipt": g["rfs_without_receipt"]["amount"],
    }
    currencies = sorted({c for a in amounts.values() for c in a})
    charts = [
        bar_chart(
            f"Money in the gaps ({c})", [(k, a.get(c, 0)) for k, a in amounts.items()], Kind.MONEY
        )
        for c in currencies
    ]
    if result.unmapped:
        top = [(f"{c.kind.value} {c.code}", c.lines) for c in result.unmapped[:10]]
        charts.append(bar_chart("Unmapped codes, lines (top 10)", top))
    days = result.days_to_credit
    if days:
        buckets = []
        for low, high in DAY_BUCKETS:
            label = f"{low}+" if high is None else f"{low}-{high}"
            count = sum(1 for d in days if d >= low and (high is None or d <= high))
            buckets.append((f"{label} days", count))
        charts.append(bar_chart("Returns credited, by days from receipt", buckets))
    return charts


def audit_html(
    result: AuditResult, tables: Sequence[Table], inputs: Sequence[InputFile] = ()
) -> str:
    figures = result.figures()
    notes = [f"{title}: {rule(key, result)}." for key, _, title in GAPS]
    notes.append(
        "Credit notes are tied to returns by their document number and description: a ZigZag "
        "return id, an RMA id, the RMA or VRET id of an Amazon return request (its order and "
        "ASIN), or an order id (with an ASIN when one is given); amounts must agree within "
        f"{result.settings.tolerance} minor unit(s) per line."
    )
    return render(
        "audit.html.j2",
        result=result,
        settings=result.settings,
        figures=figures,
        cards=_cards(figures),
        notes=notes,
        charts=_charts(result, figures),
        inputs=inputs,
        tables=[(t, table_html(t)) for t in tables],
    )


def write_audit(result: AuditResult, out: Path, inputs: Sequence[InputFile] = ()) -> AuditFiles:
    """Write ``audit.html``, ``audit.xlsx`` and ``audit.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tables = audit_tables(result, inputs)
    xlsx = write_workbook(out / "audit.xlsx", tables)
    html = out / "audit.html"
    html.write_text(audit_html(result, tables, inputs), encoding="utf-8")
    figures = {
        **result.figures(),
        "files": [
            {
                "kind": f.kind,
                "name": f.name,
                "accepted": f.accepted,
                "duplicates": f.duplicates,
                "unreadable": f.unreadable,
            }
            for f in inputs
        ],
    }
    path = out / "audit.json"
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return AuditFiles(html, xlsx, path)


__all__ = ["AuditFiles", "InputFile", "audit_html", "audit_tables", "write_audit"]
