"""The report base: a table written to XLSX reads back with the same figures, real number
formats, a frozen and filtered header and a totals row outside the filter; the HTML page shows
the same figures and draws its charts inline."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from returnbridge.reports import Column, Kind, Table
from returnbridge.reports.html import Series, bar_chart, money, render, stacked_chart, table_html
from returnbridge.reports.workbook import write_workbook

CREDITS = Table(
    name="Credits",
    title="Credits by line",
    columns=[
        Column("return"),
        Column("currency"),
        Column("units", Kind.INT),
        Column("expected", Kind.MONEY),
        Column("returned", Kind.DATETIME),
        Column("due", Kind.DATE),
    ],
    rows=[
        ["ZZR-1", "GBP", 2, 6056, datetime(2026, 11, 2, 8, 37, tzinfo=UTC), date(2026, 12, 1)],
        ["ZZR-2", "GBP", 1, -125, datetime(2026, 11, 3, 9, 0, tzinfo=UTC), date(2026, 12, 2)],
    ],
    total=["units", "expected"],
)


def test_a_table_reads_back_from_the_workbook_with_its_formats(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "r.xlsx", [CREDITS])
    ws = load_workbook(path)["Credits"]
    assert [c.value for c in ws[1]] == [
        "return",
        "currency",
        "units",
        "expected",
        "returned",
        "due",
    ]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:F3"  # header and data, not the totals row
    assert Decimal(str(ws["D2"].value)) == Decimal("60.56")
    assert ws["D2"].number_format == "#,##0.00;[Red]-#,##0.00"
    assert ws["C2"].number_format == "#,##0"
    assert ws["E2"].value == datetime(2026, 11, 2, 8, 37)
    assert ws["E2"].number_format == "yyyy-mm-dd hh:mm"
    total = [c.value for c in ws[4]]
    assert total[:3] == ["Total", "GBP", 3]
    assert Decimal(str(total[3])) == Decimal("59.31")
    assert ws["D4"].number_format == "#,##0.00;[Red]-#,##0.00" and ws["A4"].font.bold


def test_money_is_not_totalled_across_currencies(tmp_path: Path) -> None:
    mixed = Table(
        name="Mixed",
        title="Mixed",
        columns=[
            Column("line"),
            Column("currency"),
            Column("units", Kind.INT),
            Column("amount", Kind.MONEY),
        ],
        rows=[["a", "GBP", 1, 100], ["b", "EUR", 2, 300]],
        total=["units", "amount"],
    )
    ws = load_workbook(write_workbook(tmp_path / "m.xlsx", [mixed]))["Mixed"]
    assert [c.value for c in ws[4]] == ["Total", None, 3, None]


def test_a_table_refuses_rows_that_do_not_fit_its_columns() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 cells for 2 columns"):
        Table("T", "T", [Column("a"), Column("b")], [["x"]])
    with pytest.raises(ValueError, match="cannot name a sheet"):
        Table("a/b", "T", [Column("a")], [])


def test_the_html_table_shows_the_same_figures_with_a_totals_row() -> None:
    html = str(table_html(CREDITS))
    assert "60.56" in html and "-1.25" in html and "59.31" in html
    assert '<tr class="total">' in html
    assert "2026-11-02 08:37" in html


def test_money_is_written_with_separators_and_sign() -> None:
    assert money(123456789) == "1,234,567.89"
    assert money(-5, "GBP") == "-0.05 GBP"


def test_charts_are_inline_svg_with_escaped_labels_and_values() -> None:
    svg = str(bar_chart("Units by route", [("restocked", 30), ("<written off>", 10)]))
    assert svg.startswith("<svg") and "&lt;written off&gt;" in svg and ">30<" in svg
    stacked = str(
        stacked_chart(
            "Ageing",
            ["0-7", "8-30"],
            [Series("not sent", [100, 0]), Series("disputed", [250, 5])],
            Kind.MONEY,
        )
    )
    assert ">3.50<" in stacked and ">0.05<" in stacked and "not sent" in stacked


def test_the_base_page_has_no_external_reference() -> None:
    page = render("_table.html.j2", table=CREDITS)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_a_legend_too_wide_for_the_chart_goes_on_to_a_second_line() -> None:
    causes = ["not sent", "awaiting Amazon", "awaiting remittance", "disputed"]
    svg = str(stacked_chart("Ageing", ["0-7", "8-30"], [Series(c, [1, 2]) for c in causes]))
    assert 'height="122"' in svg  # title, two bars, two legend lines
    assert '<text x="184.0" y="112">disputed</text>' in svg  # the second line starts left


def test_dates_and_narrow_text_columns_do_not_wrap_on_the_page() -> None:
    narrow = Table("N", "N", [Column("sku", width=14), Column("message")], [["CAS-1-RED", "a b"]])
    assert '<td class="nowrap">CAS-1-RED</td><td>a b</td>' in str(table_html(narrow))
    assert '<td class="nowrap">2026-11-02 08:37</td>' in str(table_html(CREDITS))
