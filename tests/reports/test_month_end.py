"""``returnbridge report month-end``: the workbook's figures equal straight SQL on the demo's
database, the page shows the same figures in a real browser without fetching anything, and the
period's edges (an exception resolved after the close is open at close) hold on a tiny database.

The demo's facts are stored on the day it ran, so the month to report is read from the
database (as the daily log test reads its day). That month has not ended when the test runs,
so the close is the moment the report was made: the tests read it from the summary sheet.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Connection, create_engine, insert
from typer.testing import CliRunner

from browser_support import CHROMIUM_ARGS, chromium_path
from returnbridge.entrypoints.cli import report
from returnbridge.reports.html import money
from returnbridge.reports.monthend import write_month_end
from returnbridge.store.monthend import month_end_figures
from returnbridge.store.tables import (
    credit_movements,
    exceptions,
    journal_entries,
    journal_lines,
    metadata,
    outbox,
    return_cases,
    return_lines,
)

STATE_SHEETS = {
    "matched": "Matched",
    "partially_matched": "Partially matched",
    "unmatched": "Unmatched",
    "over_credited": "Over-credited",
    "disputed": "Disputed",
}
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"


def cli() -> typer.Typer:
    app = typer.Typer()
    report.register(app)

    @app.callback()
    def root() -> None:
        """Keeps ``report`` a sub-command, as in the real app."""

    return app


def minor(value: Any) -> int:
    """A workbook money cell (major units) as minor units."""
    return int((Decimal(str(value or 0)) * 100).to_integral_value())


def data_rows(ws: Worksheet) -> list[tuple[Any, ...]]:
    """The rows under the filter: the data without the header and the totals row."""
    last = int(str(ws.auto_filter.ref).split(":")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    return list(ws.iter_rows(min_row=2, max_row=last, values_only=True))


# --- the demo's month ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(demo_out: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(demo_out / "returnbridge.db")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def month(db: sqlite3.Connection) -> str:
    return str(db.execute("SELECT substr(min(received_at), 1, 7) FROM inbox").fetchone()[0])


@pytest.fixture(scope="module")
def made(demo_out: Path, month: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("month-end")
    url = f"sqlite:///{demo_out / 'returnbridge.db'}"
    args = ["report", "month-end", "--month", month, "--out", str(out), "--db", url]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="module")
def book(made: tuple[Path, str], month: str) -> Workbook:
    return load_workbook(made[0] / f"month-end-{month}.xlsx")


@pytest.fixture(scope="module")
def summary(book: Workbook) -> dict[tuple[str, str | None], tuple[Any, ...]]:
    return {(r[1], r[2]): r for r in data_rows(book["Summary"]) if r[0] != "note"}


@pytest.fixture(scope="module")
def close(summary: dict[tuple[str, str | None], tuple[Any, ...]]) -> str:
    """The close moment as SQLite stores times, to compare with in SQL."""
    at = summary[("close", None)][5]
    assert isinstance(at, datetime)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


@pytest.fixture(scope="module")
def demo_money(demo_out: Path) -> dict[str, Any]:
    """``finance_figures`` as the demo computed them when it ended (another path)."""
    found: dict[str, Any] = json.loads((demo_out / "summary.json").read_text("utf-8"))["finance"]
    return found


@pytest.mark.integration
def test_the_command_names_both_files_and_the_headline_figures(
    made: tuple[Path, str], month: str, db: sqlite3.Connection
) -> None:
    out, printed = made
    for suffix in ("xlsx", "html"):
        assert str(out / f"month-end-{month}.{suffix}") in printed
    expected = db.execute("SELECT sum(quantity * unit_amount) FROM credit_movements").fetchone()[0]
    assert f"GBP: {money(expected, 'GBP')} credit expected" in printed
    assert "The money invariants hold." in printed
    open_now = db.execute("SELECT count(*) FROM exceptions WHERE status = 'open'").fetchone()[0]
    assert f"{open_now} exceptions open at close" in printed


@pytest.mark.integration
def test_gl_account_totals_are_the_journal_lines_posted_in_the_month(
    book: Workbook, summary: dict[Any, tuple[Any, ...]], db: sqlite3.Connection, month: str
) -> None:
    accounts = db.execute(
        "SELECT e.currency, l.account, sum(l.debit), sum(l.credit) FROM journal_lines l"
        " JOIN journal_entries e ON e.id = l.entry_id WHERE substr(e.posted_at, 1, 7) = ?"
        " GROUP BY e.currency, l.account ORDER BY 1, 2",
        (month,),
    ).fetchall()
    assert accounts
    sheet = [
        (c, a, minor(d), minor(k), minor(n))
        for c, a, d, k, n in data_rows(book["GL account totals"])
    ]
    assert sheet == [(c, a, d, k, d - k) for c, a, d, k in accounts]
    entries, lines = db.execute(
        "SELECT count(DISTINCT e.id), count(*) FROM journal_lines l"
        " JOIN journal_entries e ON e.id = l.entry_id WHERE substr(e.posted_at, 1, 7) = ?",
        (month,),
    ).fetchone()
    assert summary[("entries posted", "GBP")][4] == entries
    assert summary[("journal lines posted", "GBP")][4] == lines


@pytest.mark.integration
def test_each_state_sheet_has_one_row_per_line_in_that_state(
    book: Workbook,
    summary: dict[Any, tuple[Any, ...]],
    demo_money: dict[str, Any],
    db: sqlite3.Connection,
    close: str,
) -> None:
    counts = {state: len(data_rows(book[sheet])) for state, sheet in STATE_SHEETS.items()}
    by_state = demo_money["lines_by_state"]
    assert counts == {state: by_state.get(state, 0) for state in STATE_SHEETS}
    for state, n in counts.items():
        assert summary[(f"lines {STATE_SHEETS[state].lower()}", None)][4] == n
    lines = db.execute(
        "SELECT count(*) FROM (SELECT DISTINCT line_ref, currency FROM credit_movements"
        " WHERE created_at < ?)",
        (close,),
    ).fetchone()[0]
    assert sum(counts.values()) == lines


@pytest.mark.integration
def test_credit_totals_equal_the_ledger_and_the_remittances(
    book: Workbook,
    summary: dict[Any, tuple[Any, ...]],
    demo_money: dict[str, Any],
    db: sqlite3.Connection,
    close: str,
) -> None:
    expected = db.execute(
        "SELECT sum(quantity * unit_amount) FROM credit_movements WHERE currency = 'GBP' AND"
        " line_ref IN (SELECT line_ref FROM credit_movements WHERE created_at < ?)",
        (close,),
    ).fetchone()[0]
    # Credited: what the remittances took back, net of deductions, for the credit notes this
    # database issued (no demo line is over-credited, so none of it is beyond a note).
    credited = db.execute(
        "SELECT sum(-amount - deductions_total) FROM amazon_remittance_lines"
        " WHERE document_type = 'credit_note' AND document_number IN"
        " (SELECT document FROM outbox WHERE topic = 'amazon.credit_note')"
    ).fetchone()[0]
    figures = {k: minor(summary[(k, "GBP")][3]) for k in ("credit expected", "credited")}
    figures |= {k: minor(summary[(k, "GBP")][3]) for k in ("pending", "disputed", "over-credited")}
    assert figures["credit expected"] == expected == demo_money["credits_expected"]["GBP"]
    assert figures["credited"] == credited == demo_money["credited"]["GBP"]
    assert figures["pending"] + figures["disputed"] == expected - credited
    assert figures["pending"] == demo_money["pending"]["GBP"]
    assert figures["disputed"] == demo_money["disputed"]["GBP"]
    assert figures["over-credited"] == 0
    assert summary[("money invariants", "GBP")][6] == "hold"
    # The state sheets and the ageing add up to the same money.
    rows = [r for sheet in STATE_SHEETS.values() for r in data_rows(book[sheet])]
    assert sum(minor(r[6]) for r in rows) == expected
    assert sum(minor(r[7]) for r in rows) == credited
    aged = data_rows(book["Aged pending credits"])
    assert sum(minor(r[-1]) for r in aged) == expected - credited


@pytest.mark.integration
def test_open_exceptions_at_close_are_those_created_before_it_and_not_resolved_by_it(
    book: Workbook, summary: dict[Any, tuple[Any, ...]], db: sqlite3.Connection, close: str
) -> None:
    found = db.execute(
        "SELECT id, code FROM exceptions WHERE created_at < :close"
        " AND (resolved_at IS NULL OR resolved_at >= :close)",
        {"close": close},
    ).fetchall()
    assert found
    rows = data_rows(book["Open exceptions at close"])
    assert sorted((int(r[0]), r[1]) for r in rows) == sorted(found)
    assert summary[("open at close", None)][4] == len(found)
    for code in {c for _, c in found}:
        n = sum(1 for _, c in found if c == code)
        assert summary[(f"open at close: {code}", None)][4] == n
        assert summary[(f"open at close: {code}", None)][6] == f"docs/operations.md#{code.lower()}"
    assert all(r[7] == f"docs/operations.md#{r[1].lower()}" for r in rows)


@pytest.mark.integration
def test_units_by_route_are_the_product_lines_changed_in_the_month(
    summary: dict[Any, tuple[Any, ...]], db: sqlite3.Connection, month: str
) -> None:
    units = db.execute(
        "SELECT sum(units_restocked), sum(units_written_off), sum(units_liquidated),"
        " sum(units_refurbished), sum(units_returned_to_vendor), sum(units_received)"
        " FROM return_lines WHERE kind = 'product' AND substr(updated_at, 1, 7) = ?",
        (month,),
    ).fetchone()
    places = ["restocked", "written off", "liquidated", "refurbished", "returned to vendor"]
    assert [summary[(p, None)][4] for p in places] == list(units[:5])
    assert summary[("received (all of the above)", None)][4] == units[5]
    booked = db.execute(
        "SELECT sum(quantity) FROM stock_movements WHERE substr(created_at, 1, 7) = ?", (month,)
    ).fetchone()[0]
    assert summary[("booked to sellable stock", None)][4] == booked


@pytest.mark.integration
def test_every_sheet_has_a_frozen_filtered_header_and_real_number_formats(book: Workbook) -> None:
    assert book.sheetnames == [
        "Summary",
        *STATE_SHEETS.values(),
        "GL account totals",
        "Aged pending credits",
        "Open exceptions at close",
        "Credit notes",
    ]
    for ws in book:
        assert ws.freeze_panes == "A2", ws.title
        assert str(ws.auto_filter.ref).startswith("A1:"), ws.title
    assert book["Matched"]["G2"].number_format == MONEY_FORMAT  # credit expected
    assert book["Matched"]["E2"].number_format == "#,##0"  # units
    assert book["Matched"]["F2"].number_format == "yyyy-mm-dd"  # returned
    assert book["GL account totals"]["E2"].number_format == MONEY_FORMAT
    assert book["Aged pending credits"]["C2"].number_format == MONEY_FORMAT
    assert book["Open exceptions at close"]["E2"].number_format == "yyyy-mm-dd hh:mm"
    assert isinstance(book["Matched"]["G2"].value, float | int)


@pytest.mark.integration
def test_the_credit_note_numbers_of_the_month_run_without_a_gap(
    book: Workbook, db: sqlite3.Connection, month: str
) -> None:
    rows = data_rows(book["Credit notes"])
    (series,) = [r for r in rows if r[0] == "series"]
    numbers = [
        n for (n,) in db.execute(
            "SELECT number FROM credit_notes WHERE substr(issued_at, 1, 7) = ? ORDER BY sequence",
            (month,),
        )
    ]  # fmt: skip
    assert numbers and series[1:3] == ("RBCN", f"{numbers[0]} to {numbers[-1]}")
    sequences = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert sequences == list(range(1, len(numbers) + 1)) and series[5] == len(numbers)


@pytest.mark.integration
@pytest.mark.browser
def test_the_page_shows_the_database_figures_in_chromium_and_fetches_nothing(
    made: tuple[Path, str], month: str, db: sqlite3.Connection, tmp_path: Path
) -> None:
    chromium = chromium_path()
    from playwright.sync_api import Request, Route, sync_playwright

    page_file = made[0] / f"month-end-{month}.html"
    errors: list[str] = []
    fetched: list[str] = []

    def refuse_network(route: Route) -> None:
        fetched.append(route.request.url)
        route.abort()

    def record(request: Request) -> None:
        if not request.url.startswith(("file://", "data:")):
            fetched.append(request.url)

    shot = tmp_path / "month-end.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", record)
            page.route(lambda url: not url.startswith(("file:", "data:")), refuse_network)
            page.goto(page_file.as_uri())
            page.screenshot(path=str(shot), full_page=True)
            text = page.inner_text("body")
            charts = page.locator("svg.chart").count()
        finally:
            browser.close()
    assert errors == []
    assert fetched == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    assert charts == 3
    expected, credited = db.execute(
        "SELECT (SELECT sum(quantity * unit_amount) FROM credit_movements),"
        " (SELECT sum(-amount - deductions_total) FROM amazon_remittance_lines"
        "  WHERE document_type = 'credit_note')"
    ).fetchone()
    assert money(expected, "GBP") in text and money(credited, "GBP") in text
    for account, debit, credit in db.execute(
        "SELECT account, sum(debit), sum(credit) FROM journal_lines GROUP BY account"
    ):
        assert account in text and money(debit) in text and money(credit) in text
    open_now = db.execute("SELECT count(*) FROM exceptions WHERE status = 'open'").fetchone()[0]
    assert f"EXCEPTIONS OPEN AT CLOSE\n{open_now}" in text.upper()
    assert "as they stand when the report was made" in text


# --- the period's edges, on a tiny database --------------------------------------------------

NOV = date(2026, 11, 1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def tiny(db_url: str) -> Iterator[Connection]:
    """One return with two lines: line 1 owes credit from November, line 2 from December; a
    journal entry each side of the month's end; exceptions around the close. On SQLite and on
    PostgreSQL."""
    engine = create_engine(db_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(return_cases).values(
                id=1,
                case_key="zz:R1",
                return_id="R1",
                status="closed",
                provisional=False,
                created_at=at("2026-11-02 10:00"),
                updated_at=at("2026-11-20 10:00"),
            )
        )
        for n, updated in ((1, "2026-11-20 10:00"), (2, "2026-12-03 09:00")):
            conn.execute(
                insert(return_lines).values(
                    id=n,
                    case_id=1,
                    line_id=str(n),
                    kind="product",
                    status="closed",
                    sku="SKU-1",
                    units_received=1,
                    units_restocked=1,
                    updated_at=at(updated),
                )
            )
            created = at("2026-11-19 08:00" if n == 1 else "2026-12-03 09:00")
            conn.execute(
                insert(credit_movements).values(
                    movement_key=f"1/{n}/1",
                    line_ref=n,
                    sku="SKU-1",
                    quantity=1,
                    unit_amount=2500,
                    currency="GBP",
                    created_at=created,
                )
            )
            payload = {
                "case": 1,
                "line_id": str(n),
                "currency": "GBP",
                "quantity": 1,
                "unit_amount": 2500,
                "sku": "SKU-1",
                "returned_at": "2026-11-10T00:00:00+00:00",
            }
            conn.execute(
                insert(outbox).values(
                    topic="amazon.credit_note",
                    message_key=f"credit/1/{n}",
                    payload=json.dumps(payload),
                    status="pending",
                    created_at=created,
                )
            )
        for n, posted in ((1, "2026-11-30 23:59:59"), (2, "2026-12-01 00:00")):
            conn.execute(
                insert(journal_entries).values(
                    id=n,
                    entry_key=f"e{n}",
                    kind="disposition",
                    line_ref=n,
                    currency="GBP",
                    memo="restock",
                    posted_at=at(posted),
                )
            )
            conn.execute(
                insert(journal_lines),
                [
                    {"entry_id": n, "account": "1310", "debit": 2500, "credit": 0},
                    {"entry_id": n, "account": "1390", "debit": 0, "credit": 2500},
                ],
            )
        for n, created, resolved in (
            (1, "2026-10-20 09:00", "2026-11-15 09:00"),  # resolved before the close
            (2, "2026-11-10 09:00", "2026-12-02 09:00"),  # resolved after the close
            (3, "2026-11-30 23:00", None),  # still open
            (4, "2026-12-01 00:00", None),  # created at the period end: after the close
        ):
            conn.execute(
                insert(exceptions).values(
                    id=n,
                    code="UNKNOWN_SKU",
                    status="open" if resolved is None else "resolved",
                    case_id=1,
                    line_id="1",
                    message=f"exception {n}",
                    raw="{}",
                    created_at=at(created),
                    resolved_at=None if resolved is None else at(resolved),
                )
            )
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def test_an_exception_resolved_after_the_close_was_open_at_close(tiny: Connection) -> None:
    f = month_end_figures(tiny, NOV, now=at("2026-12-05 12:00"))
    assert f.period.close == at("2026-12-01 00:00") and f.period.ended
    assert [(e.id, e.age_days) for e in f.open_exceptions] == [(2, 20), (3, 0)]
    october = month_end_figures(tiny, date(2026, 10, 9), now=at("2026-12-05 12:00"))
    assert [e.id for e in october.open_exceptions] == [1]


def test_only_the_month_counts_for_journals_and_credit_before_the_close(tiny: Connection) -> None:
    f = month_end_figures(tiny, NOV, now=at("2026-12-05 12:00"))
    assert [(t.account, t.debit, t.credit) for t in f.gl_totals] == [
        ("1310", 2500, 0),
        ("1390", 0, 2500),
    ]
    assert f.journal_entries == {"GBP": 1} and f.journal_lines == {"GBP": 2}
    assert [r.line.line_id for r in f.credit_rows] == ["1"]
    assert f.credits["credits_expected"] == {"GBP": 2500}
    assert f.lines_by_state["unmatched"] == 1 and f.money_ok == {"GBP": True}
    assert f.ageing["GBP"]["not_sent"]["8-30"] == 2500  # 21 days from return to the close
    assert f.units_by_route["restocked"] == 1 and f.stock_booked == 0


def test_a_month_not_yet_ended_closes_at_the_moment_of_the_report(tiny: Connection) -> None:
    f = month_end_figures(tiny, NOV, now=at("2026-11-20 12:00"))
    assert f.period.close == at("2026-11-20 12:00") and not f.period.ended
    assert [e.id for e in f.open_exceptions] == [2]
    assert f.ageing["GBP"]["not_sent"]["8-30"] == 2500  # 10 days


def test_a_month_that_has_not_started_is_refused(tiny: Connection) -> None:
    with pytest.raises(ValueError, match="has not started"):
        month_end_figures(tiny, date(2027, 1, 1), now=at("2026-12-05 12:00"))


def test_an_empty_month_writes_a_report_that_says_there_is_nothing(
    tiny: Connection, tmp_path: Path
) -> None:
    files = write_month_end(tiny, date(2026, 9, 1), tmp_path / "out", now=at("2026-12-05 12:00"))
    assert files.figures.empty
    book = load_workbook(files.xlsx)
    assert all(len(data_rows(book[s])) == 0 for s in STATE_SHEETS.values())
    assert data_rows(book["GL account totals"]) == []
    notes = [r[6] for r in data_rows(book["Summary"]) if r[0] == "note"]
    assert any("as they stand when the report was made" in n for n in notes)
    page = files.html.read_text("utf-8")
    assert "Nothing to report for 2026-09" in page and "<script" not in page
