"""Render report tables and charts as one self-contained HTML page (Jinja2).

Everything the page needs is inside it: the style sheet is inline and the charts are inline SVG,
so the file reads offline, from a mail attachment or a shared drive, with no script and nothing
fetched from anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from returnbridge.reports.tables import Column, Kind, Table
from returnbridge.reports.workbook import TOTAL_LABEL, totals_row

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def money(minor: int | None, currency: str = "") -> str:
    """3028 -> '30.28', -123456 -> '-1,234.56' (with the currency after it when given)."""
    if minor is None:
        return ""
    sign = "-" if minor < 0 else ""
    text = f"{sign}{abs(minor) // 100:,}.{abs(minor) % 100:02d}"
    return f"{text} {currency}" if currency else text


def show(kind: Kind, value: Any) -> str:
    """A cell as text, as the workbook's number format would show it."""
    if value is None:
        return ""
    if kind is Kind.MONEY:
        return money(int(value))
    if kind is Kind.INT:
        return f"{int(value):,}"
    if kind is Kind.DAYS:
        return f"{float(value):.1f}"
    if kind is Kind.PERCENT:
        return f"{float(value) * 100:.1f}%"
    if kind is Kind.DATETIME and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if kind is Kind.DATE and isinstance(value, date):
        return value.isoformat()
    return str(value)


def numeric(kind: Kind) -> bool:
    return kind in (Kind.INT, Kind.MONEY, Kind.DAYS, Kind.PERCENT)


def cell_class(column: Column) -> str:
    """A cell's class: numbers align right; dates, and text columns given a narrow width
    (codes, ids, SKUs), do not wrap; other text wraps."""
    if numeric(column.kind):
        return "num"
    narrow = column.kind is Kind.TEXT and column.width is not None and column.width <= 20
    return "nowrap" if narrow or column.kind in (Kind.DATE, Kind.DATETIME) else ""


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, int]],
    kind: Kind = Kind.INT,
    width: int = 560,
    label_width: int = 170,
) -> Markup:
    """Horizontal bars, one per (label, value), each labelled with its value."""
    return stacked_chart(
        title,
        [label for label, _ in bars],
        [Series("", [v for _, v in bars])],
        kind,
        width,
        label_width,
    )


def stacked_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    kind: Kind = Kind.INT,
    width: int = 560,
    label_width: int = 170,
) -> Markup:
    """Horizontal stacked bars: a bar per category, a colour per series, the bar's total at its
    end, and a legend when there is more than one series. Negative values are drawn as zero.
    ``label_width`` is the room, in pixels, for the category names on the left."""
    row, label_w, value_w, top = 26, label_width, 90, 28
    # The legend's items in lines that fit the width: [(x, y offset, series number)].
    legend: list[tuple[float, int, int]] = []
    if len(series) > 1:
        x, line = float(label_w), 0
        for n, s in enumerate(series):
            item = 24 + 7 * len(s.name)
            if x + item > width and x > label_w:
                x, line = float(label_w), line + 1
            legend.append((x, line * 18, n))
            x += item
    lines = legend[-1][1] // 18 + 1 if legend else 0
    height = top + row * max(len(categories), 1) + (6 + 18 * lines if legend else 4)
    totals = [sum(max(0, s.values[i]) for s in series) for i in range(len(categories))]
    peak = max(totals, default=0) or 1
    span = width - label_w - value_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{escape(title)}">',
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for i, category in enumerate(categories):
        y = top + i * row
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(category)}</text>'
        )
        x = float(label_w)
        for n, s in enumerate(series):
            w = span * max(0, s.values[i]) / peak
            if w > 0:
                tip = f"{s.name}: {show(kind, s.values[i])}" if s.name else show(kind, s.values[i])
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                    f'fill="{PALETTE[n % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
                )
                x += w
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + 16}" class="chart-value">'
            f"{escape(show(kind, totals[i]))}</text>"
        )
    for x, dy, n in legend:
        y = top + row * len(categories) + 14 + dy
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 10}" width="10" height="10" '
            f'fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{x + 14:.1f}" y="{y}">{escape(series[n].name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("returnbridge.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.globals.update(
        show=show,
        numeric=numeric,
        cell_class=cell_class,
        totals_row=totals_row,
        TOTAL_LABEL=TOTAL_LABEL,
    )
    return env


ENV = _environment()


def render(template: str, **context: Any) -> str:
    """Render one of the package's templates (``reports/templates``)."""
    return ENV.get_template(template).render(**context)


def table_html(table: Table) -> Markup:
    """A report table as an HTML table (the macro every page uses)."""
    return Markup(render("_table.html.j2", table=table))


__all__ = ["Series", "bar_chart", "money", "render", "show", "stacked_chart", "table_html"]
