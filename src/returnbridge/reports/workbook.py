"""Write report tables as an XLSX workbook (openpyxl): one sheet per table, the header row
frozen and filtered, real number formats (money as a decimal of major units, counts as integers,
dates as dates), and a bold totals row under the data where the table asks for one.

The filter covers the header and the data rows only, so sorting and filtering in Excel never
moves the totals row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from returnbridge.reports.tables import Kind, Table

FORMATS = {
    Kind.INT: "#,##0",
    Kind.MONEY: "#,##0.00;[Red]-#,##0.00",
    Kind.DAYS: "0.0",
    Kind.PERCENT: "0.0%",
    Kind.DATE: "yyyy-mm-dd",
    Kind.DATETIME: "yyyy-mm-dd hh:mm",
}
WIDTHS = {Kind.TEXT: 24, Kind.INT: 10, Kind.MONEY: 14, Kind.DAYS: 9, Kind.PERCENT: 9}
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
TOTAL_LABEL = "Total"


def major(minor: int) -> Decimal:
    """Minor units as an exact decimal of major units (3028 -> 30.28)."""
    return Decimal(minor).scaleb(-2)


def cell_value(kind: Kind, value: Any) -> Any:
    if value is None:
        return None
    if kind is Kind.MONEY:
        return major(int(value))
    if kind is Kind.DATETIME and isinstance(value, datetime):
        return value.replace(tzinfo=None)  # XLSX has no time zones: every time here is UTC
    if kind is Kind.DATE and isinstance(value, datetime):
        return value.date()
    if kind is Kind.DATE and isinstance(value, date):
        return value
    return value


def single_currency(table: Table) -> bool:
    headers = [c.header.lower() for c in table.columns]
    if "currency" not in headers:
        return True
    i = headers.index("currency")
    return len({row[i] for row in table.rows}) <= 1


def totals_row(table: Table) -> list[Any] | None:
    """The sums under a table's data, or None. Money is summed only within one currency."""
    if not table.total or not table.rows:
        return None
    row: list[Any] = [None] * len(table.columns)
    row[0] = TOTAL_LABEL
    for header in table.total:
        i = table.index(header)
        kind = table.columns[i].kind
        if kind is Kind.MONEY and not single_currency(table):
            continue
        row[i] = table.column_total(header)
    headers = [c.header.lower() for c in table.columns]
    if "currency" in headers[1:] and single_currency(table):
        row[headers.index("currency")] = table.rows[0][headers.index("currency")]
    return row


def _write_sheet(ws: Worksheet, table: Table) -> None:
    ws.title = table.name
    ws.append([c.header for c in table.columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="top", wrap_text=True)
    for row in table.rows:
        ws.append([cell_value(c.kind, v) for c, v in zip(table.columns, row, strict=True)])
    last = len(table.rows) + 1
    for i, column in enumerate(table.columns, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = column.width or WIDTHS.get(column.kind, 18)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{last}"
    sums = totals_row(table)
    if sums is not None:
        ws.append(
            [
                cell_value(c.kind, v) if v != TOTAL_LABEL else v
                for c, v in zip(table.columns, sums, strict=True)
            ]
        )
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    for i, column in enumerate(table.columns, start=1):
        fmt = FORMATS.get(column.kind)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, max_row=ws.max_row, min_col=i, max_col=i):
                cell.number_format = fmt


def write_workbook(path: Path, tables: Sequence[Table]) -> Path:
    """Write ``tables`` to ``path``, a sheet each, in order. Returns the path."""
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise ValueError(f"sheet names must be unique: {names}")
    wb = Workbook()
    first = True
    for table in tables:
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        first = False
        _write_sheet(ws, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


__all__ = ["major", "totals_row", "write_workbook"]
