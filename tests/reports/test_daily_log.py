"""``returnbridge report daily``: the figures of a demo day equal straight SQL counts on its
database, and the text names them in sentences, with a runbook link for every code.

The demo's events are dated by its generator (``DAY_START``), but every section of the log is
keyed on the time returnbridge stored (``received_at``, ``updated_at``, ``started_at``,
``prepared_at``, ``created_at``): the day the demo ran. The tests read that day from the
database rather than assume it, so a run across midnight still compares like with like.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from returnbridge.entrypoints.cli import report

pytestmark = pytest.mark.integration

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def cli() -> typer.Typer:
    app = typer.Typer()
    report.register(app)

    @app.callback()
    def root() -> None:
        """Keeps ``report`` a sub-command, as in the real app."""

    return app


@pytest.fixture(scope="module")
def db(demo_out: Path) -> sqlite3.Connection:
    return sqlite3.connect(demo_out / "returnbridge.db")


@pytest.fixture(scope="module")
def day(db: sqlite3.Connection) -> str:
    return str(db.execute("SELECT substr(min(received_at), 1, 10) FROM inbox").fetchone()[0])


def run(demo_out: Path, *args: str) -> str:
    url = f"sqlite:///{demo_out / 'returnbridge.db'}"
    result = CliRunner().invoke(cli(), ["report", "daily", *args, "--db", url])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def figures(demo_out: Path, day: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(run(demo_out, "--date", day, "--json"))
    return parsed


@pytest.fixture(scope="module")
def text(demo_out: Path, day: str) -> str:
    return run(demo_out, "--date", day)


def rows(db: sqlite3.Connection, sql: str, day: str) -> list[tuple[Any, ...]]:
    return db.execute(sql, {"day": day}).fetchall()


def test_arrivals_equal_the_inbox_rows_received_that_day(
    figures: dict[str, Any], text: str, db: sqlite3.Connection, day: str
) -> None:
    by_source = rows(
        db,
        "SELECT source, count(*), sum(CASE WHEN status != 'invalid' THEN duplicates ELSE 0 END),"
        " sum(status = 'invalid') FROM inbox WHERE substr(received_at, 1, 10) = :day"
        " GROUP BY source",
        day,
    )
    assert {s: (e, d, u) for s, e, d, u in by_source} == {
        s: (v["events"], v["duplicates"], v["unreadable"])
        for s, v in figures["arrived"]["by_source"].items()
    }
    zigzag = figures["arrived"]["by_source"]["zigzag"]
    assert zigzag["unreadable"] > 0 and zigzag["duplicates"] > 0
    assert (
        f"{zigzag['events']} events arrived from ZigZag ({zigzag['duplicates']} duplicates, "
        f"{zigzag['unreadable']} unreadable: see [INVALID_EVENT](operations.md#invalid_event))."
    ) in text


def test_the_arrivals_agree_with_the_demo_summary(figures: dict[str, Any], demo_out: Path) -> None:
    summary = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))
    assert figures["arrived"]["events"] == summary["events_received"]
    total_duplicates = sum(s["duplicates"] for s in figures["arrived"]["by_source"].values())
    assert total_duplicates == summary["events_duplicate"]


def test_processing_equals_the_cases_and_lines_updated_that_day(
    figures: dict[str, Any], text: str, db: sqlite3.Connection, day: str
) -> None:
    cases = rows(
        db,
        "SELECT status, count(*) FROM return_cases WHERE substr(updated_at, 1, 10) = :day"
        " GROUP BY status",
        day,
    )
    assert dict(cases) == figures["processed"]["cases_by_status"]
    units = rows(
        db,
        "SELECT sum(units_restocked), sum(units_written_off), sum(units_liquidated),"
        " sum(units_refurbished), sum(units_returned_to_vendor) FROM return_lines"
        " WHERE kind = 'product' AND substr(updated_at, 1, 10) = :day",
        day,
    )[0]
    routed = figures["processed"]["units_by_route"]
    assert tuple(routed.values()) == units
    assert (
        f"Units on those lines went to: {units[0]} restocked, {units[1]} written off, "
        f"{units[2]} liquidated, {units[3]} refurbished, {units[4]} returned to vendor."
    ) in text
    assert f"{sum(n for _, n in cases)} returns changed" in text


def test_the_amazon_sync_equals_the_cycles_and_submissions_of_the_day(
    figures: dict[str, Any], text: str, db: sqlite3.Connection, day: str
) -> None:
    cycles = rows(
        db, "SELECT count(*) FROM clearing_cycles WHERE substr(started_at, 1, 10) = :day", day
    )[0][0]
    assert cycles > 0 and figures["amazon"]["cycles"] == cycles
    assert f"{cycles} clearing cycles ran" in text
    submissions = rows(
        db,
        "SELECT operation, status, count(*), sum(item_count) FROM amazon_submissions"
        " WHERE substr(prepared_at, 1, 10) = :day GROUP BY operation, status",
        day,
    )
    assert {(o, s): (n, i) for o, s, n, i in submissions} == {
        (o, s): (v["requests"], v["items"])
        for o, statuses in figures["amazon"]["submissions"].items()
        for s, v in statuses.items()
    }
    for operation, status, requests, items in submissions:
        if (operation, status) == ("inventory", "success"):
            (line,) = [x for x in text.splitlines() if x.startswith("- Stock update requests:")]
            assert f"{requests} requests ({items} items) confirmed" in line


def test_amazon_rejections_equal_the_exceptions_opened_that_day(
    figures: dict[str, Any], text: str, db: sqlite3.Connection, day: str
) -> None:
    opened = rows(
        db,
        "SELECT code, count(*) FROM exceptions WHERE substr(created_at, 1, 10) = :day AND code"
        " IN ('AMAZON_REJECTED', 'AMAZON_STUCK', 'CREDIT_OVERSTATED') GROUP BY code",
        day,
    )
    assert dict(opened) == figures["amazon_rejected"]["by_code"]
    if not opened:
        assert "Amazon rejected nothing" in text
    for code, n in opened:
        lines = f"{n} line" if n == 1 else f"{n} lines"
        assert f"{lines} opened [{code}](operations.md#{code.lower()})" in text


def test_open_exceptions_name_each_code_with_its_runbook_anchor_and_oldest_age(
    figures: dict[str, Any], text: str, db: sqlite3.Connection
) -> None:
    open_now = rows(
        db,
        "SELECT code, count(*), min(created_at) FROM exceptions WHERE status = 'open'"
        " GROUP BY code",
        "",
    )
    assert open_now
    assert {c: n for c, n, _ in open_now} == {
        c: e["open"] for c, e in figures["open_exceptions"].items()
    }
    anchors = {h.lower() for h in re.findall(r"^## ([A-Z_]+)$", RUNBOOK.read_text("utf-8"), re.M)}
    for code, n, oldest in open_now:
        assert code.lower() in anchors, f"{code} has no runbook section"
        assert f"| [{code}](operations.md#{code.lower()}) | {n} | {oldest[:16]} |" in text


def test_pending_credits_are_the_finance_figures(
    figures: dict[str, Any], text: str, demo_out: Path
) -> None:
    money = json.loads((demo_out / "summary.json").read_text(encoding="utf-8"))["finance"]
    credits = figures["credits"]
    for key in ("credits_expected", "credited", "pending", "disputed", "money_invariants_ok"):
        assert credits[key] == money[key]
    for currency, causes in credits["ageing"].items():
        not_cleared = sum(sum(b.values()) for b in causes.values())
        assert not_cleared == money["pending"][currency] + money["disputed"][currency]
    pending = money["pending"]["GBP"]
    assert f"{pending // 100:,}.{pending % 100:02d} GBP pending" in text
    assert "The money invariants hold." in text


def test_a_day_with_nothing_says_so_in_every_section(demo_out: Path, day: str) -> None:
    before = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    text = run(demo_out, "--date", before)
    for sentence in (
        "No event arrived.",
        "No return was processed.",
        "No clearing cycle ran.",
        "No request to Amazon was prepared.",
        "Amazon rejected nothing",
        "No exception was open at the end of the day.",
    ):
        assert sentence in text


def test_out_writes_the_log_to_a_file(demo_out: Path, day: str, text: str) -> None:
    target = demo_out / "daily.md"
    run(demo_out, "--date", day, "--out", str(target))
    # Ages are counted to the moment each log is made, which may be a minute later here.
    counted = re.compile(r"ages counted to \d{4}-\d\d-\d\d \d\d:\d\d UTC")
    written = target.read_text(encoding="utf-8")
    assert counted.search(text) and counted.sub("", written) == counted.sub("", text)


def test_a_date_that_is_not_a_day_is_refused(demo_out: Path) -> None:
    result = CliRunner().invoke(cli(), ["report", "daily", "--date", "29/11/2026"])
    assert result.exit_code == 2


def test_each_amazon_rejection_is_named_with_its_return_line_and_message(
    figures: dict[str, Any],
) -> None:
    rejected = {
        "by_code": {"AMAZON_REJECTED": 1},
        "items": [
            {
                "id": 7,
                "code": "AMAZON_REJECTED",
                "status": "open",
                "return": "ZZR-3-000001",
                "line_id": "1",
                "message": "Amazon refused the stock update: InvalidQuantity",
                "created_at": figures["as_of"],
            }
        ],
        "more": 0,
    }
    text = report.render({**figures, "amazon_rejected": rejected})
    assert "- 1 line opened [AMAZON_REJECTED](operations.md#amazon_rejected)." in text
    assert (
        "- AMAZON_REJECTED on return ZZR-3-000001 line 1 (open): "
        "Amazon refused the stock update: InvalidQuantity"
    ) in text
