"""The CLI as a user runs it, in a subprocess, on a fresh folder."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

UNIT_KEYS = {
    "received",
    "restocked",
    "written_off",
    "liquidated",
    "refurbished",
    "returned_to_vendor",
    "in_exception",
    "pending",
}


def rb(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "returnbridge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def demo_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "OUT"
    rb("demo", "--returns", "1000", "--seed", "7", "--out", str(out), cwd=out.parent)
    return out


def test_the_demo_writes_a_summary_with_every_promised_figure(demo_day: Path) -> None:
    summary = json.loads((demo_day / "summary.json").read_text())
    assert {
        "events_received",
        "events_duplicate",
        "returns",
        "lines",
        "units",
        "exceptions",
        "journals",
        "invariants_ok",
    } <= set(summary)
    assert set(summary["units"]) == UNIT_KEYS
    units = summary["units"]
    assert units["received"] == sum(v for k, v in units.items() if k != "received")
    assert summary["returns"] == 1000 and summary["invariants_ok"] is True
    assert summary["journals"]["balanced"] is True and summary["journals"]["entries"] > 0
    assert summary["events_duplicate"] == summary["planted"]["duplicates"]
    assert summary["exceptions"]["INVALID_EVENT"] == summary["planted"]["bad_rows"]
    money = summary["finance"]
    assert money["money_invariants_ok"] is True
    for currency, expected in money["credits_expected"].items():
        parts = ("credited", "pending", "disputed")
        assert expected == sum(money[p].get(currency, 0) for p in parts) > 0
    assert money["credited"]["GBP"] > 0  # Amazon's remittance cleared part of the credit
    erp_rows = (demo_day / "erp").glob("*.csv")
    exported = sum(len(f.read_text().splitlines()) - 1 for f in erp_rows)
    erp = summary["erp_export"]
    assert exported == erp["lines"] + erp["stock_adjustments"] and erp["stock_adjustments"] > 0
    for code in (
        "UNKNOWN_SKU",
        "INACTIVE_SKU",
        "UNMAPPED_REASON",
        "UNMAPPED_DISPOSITION",
        "QUANTITY_MISMATCH",
    ):
        assert summary["exceptions"][code] > 0, code


def test_the_demo_writes_the_daily_log_and_the_month_end_close(demo_day: Path) -> None:
    summary = json.loads((demo_day / "summary.json").read_text())
    daily = (demo_day / "daily-log.md").read_text()
    assert daily.startswith("# Daily log for ")
    received = summary["events_received"]
    assert "## What arrived" in daily and "## Pending credits not cleared" in daily
    zigzag = int(daily.split(" events arrived from ZigZag")[0].rsplit("- ", 1)[1])
    amazon = int(daily.split(" events arrived from Amazon")[0].rsplit("- ", 1)[1])
    assert zigzag + amazon == received
    (xlsx,) = demo_day.glob("month-end-*.xlsx")
    assert xlsx.with_suffix(".html").exists()
    rows = list(load_workbook(xlsx)["Summary"].iter_rows(values_only=True))
    amounts = {(r[1], r[2]): r[3] for r in rows if r[0] == "credits" and r[3] is not None}
    money = summary["finance"]
    for figure, key in (("credit expected", "credits_expected"), ("credited", "credited")):
        for currency, minor in money[key].items():
            assert round(amounts[(figure, currency)] * 100) == minor, figure


def test_the_same_seed_gives_the_same_summary_whatever_the_transport(
    demo_day: Path, tmp_path: Path
) -> None:
    # demo_day came by webhook (the default); this day comes as the CSV export.
    again = ["--seed", "7", "--transport", "csv", "--out", str(tmp_path / "again")]
    rb("demo", "--returns", "1000", *again, cwd=tmp_path)
    first = (demo_day / "summary.json").read_text()
    assert (tmp_path / "again" / "summary.json").read_text() == first
    other = ["--seed", "8", "--transport", "csv", "--out", str(tmp_path / "other")]
    rb("demo", "--returns", "1000", *other, "--no-amazon", cwd=tmp_path)
    assert (tmp_path / "other" / "summary.json").read_text() != first


def test_the_three_transports_give_the_same_summary(tmp_path: Path) -> None:
    summaries = {}
    for transport in ("webhook", "poll", "csv"):
        out = tmp_path / transport
        rb("demo", "--returns", "300", "--seed", "5", "--transport", transport, "--out", str(out),
           cwd=tmp_path)  # fmt: skip
        summaries[transport] = (out / "summary.json").read_text()
    assert summaries["webhook"] == summaries["poll"] == summaries["csv"]
    figures = json.loads(summaries["csv"])
    assert figures["events_duplicate"] > 0 and figures["import"]["unreadable"] > 0


def test_reconcile_passes_on_the_demo_and_names_the_invariant_a_tampered_row_breaks(
    demo_day: Path, tmp_path: Path
) -> None:
    db = tmp_path / "copy.db"
    source = sqlite3.connect(demo_day / "returnbridge.db")
    source.backup(target := sqlite3.connect(db))
    source.close()
    ok = rb("reconcile", "--check", "--db", f"sqlite:///{db}", cwd=tmp_path)
    assert "UNITS_CONSERVED" in ok.stdout

    target.execute(
        "UPDATE return_lines SET units_restocked = units_restocked + 1 "
        "WHERE id = (SELECT min(id) FROM return_lines WHERE units_restocked > 0)"
    )
    target.commit()
    target.close()
    failed = rb("reconcile", "--check", "--db", f"sqlite:///{db}", cwd=tmp_path, check=False)
    assert failed.returncode == 1
    assert "reconcile failed: STOCK_MATCHES_RESTOCKED, UNITS_CONSERVED" in failed.stdout


def test_a_bad_export_imports_its_good_rows_and_names_each_bad_one(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    rb("db", "upgrade", "--db", db, cwd=tmp_path)
    header = (
        "event_id,event_type,occurred_at,retailer_code,order_number,return_id,"
        "dc_warehouse,channel_order_ref,rma_id,line_id,sku,quantity,return_reason_id,"
        "grade,disposition,charge_id,charge_type,charge_amount,currency\n"
    )
    good = "e1,return.registered,2026-11-02T10:00:00Z,CASTORE,O1,R1,UK-DC1,,,1,CAS-1,1,3,,,,,,\n"
    export = tmp_path / "export.csv"
    with export.open("wb") as handle:
        handle.write(header.encode())
        handle.write(good.encode())
        handle.write(b"e2,return.registered,2026-11-02T10:00:00Z,CASTORE\n")  # truncated
        handle.write(good.replace("e1,return.registered", "e3,return.teleported").encode())
        handle.write(good.replace("e1,", "e4,").replace(",1,3,", ",-2,3,").encode())
        handle.write(good.replace("e1,", "e5,").replace("CAS-1", "X" * 10_000_000).encode())
        handle.write(good.replace("e1,", "e6,").encode().replace(b"CAS-1", b"CAS-\xff\xfe"))
        handle.write(good.replace("e1,", "e7,").encode())
    result = rb("import", "zigzag", str(export), "--db", db, cwd=tmp_path)
    assert "2 events accepted" in result.stdout and "5 unreadable" in result.stdout
    for row, why in ((3, "cells"), (4, "type"), (5, "quantity"), (6, "characters"), (7, "UTF-8")):
        assert any(
            f"export.csv row {row}" in line and why in line for line in result.stdout.splitlines()
        ), (row, why, result.stdout)
    listed = rb("exceptions", "list", "--code", "INVALID_EVENT", "--json", "--db", db, cwd=tmp_path)
    assert listed.stdout.count('"INVALID_EVENT"') == 5
    again = rb("import", "zigzag", str(export), "--db", db, cwd=tmp_path)
    assert "0 events accepted, 7 duplicates ignored, 0 unreadable" in again.stdout
    assert "export.csv row" not in again.stdout  # nothing new to report


def test_a_bad_catalog_file_is_refused_naming_the_row_and_field(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("sku,unit_cost,currency\nCAS-1,12.50,GBP\nCAS-2,twelve,GBP\n")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    rb("db", "upgrade", "--db", db, cwd=tmp_path)
    result = rb("catalog", "load", str(catalog), "--db", db, cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "catalog.csv row 3, field 'unit_cost'" in result.stderr


def test_a_database_not_yet_upgraded_is_refused_with_the_command_to_run(tmp_path: Path) -> None:
    result = rb("process", "--db", f"sqlite:///{tmp_path / 'new.db'}", cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "no returnbridge schema" in result.stderr and "returnbridge db upgrade" in result.stderr


def test_an_exception_is_resolved_from_the_cli_with_who_and_when(
    demo_day: Path, tmp_path: Path
) -> None:
    db_file = tmp_path / "copy.db"
    source = sqlite3.connect(demo_day / "returnbridge.db")
    source.backup(target := sqlite3.connect(db_file))
    source.close()
    target.close()
    db = f"sqlite:///{db_file}"
    listed = rb("exceptions", "list", "--code", "INACTIVE_SKU", "--json", "--db", db, cwd=tmp_path)
    held = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith("{")]
    first = next(e for e in held if e["units"] > 0)
    done = rb(
        "exceptions",
        "resolve",
        str(first["id"]),
        "--action",
        "write-off",
        "--actor",
        "kim.finance",
        "--note",
        "discontinued line",
        "--db",
        db,
        cwd=tmp_path,
    )
    assert f"exception {first['id']} resolved by kim.finance (write-off)" in done.stdout
    shown = rb("exceptions", "show", str(first["id"]), "--db", db, cwd=tmp_path)
    assert "kim.finance write-off discontinued line" in shown.stdout
    rb("reconcile", "--check", "--db", db, cwd=tmp_path)


@pytest.mark.postgres
def test_the_demo_runs_on_postgresql_with_the_same_figures(
    postgres_url: str, tmp_path: Path
) -> None:
    day = ["demo", "--returns", "300", "--seed", "7", "--transport", "csv"]
    rb(*day, "--out", str(tmp_path / "sqlite"), cwd=tmp_path)
    rb(*day, "--db", postgres_url, "--out", str(tmp_path / "pg"), cwd=tmp_path)
    on_sqlite = (tmp_path / "sqlite" / "summary.json").read_text()
    assert (tmp_path / "pg" / "summary.json").read_text() == on_sqlite
    assert json.loads(on_sqlite)["finance"]["money_invariants_ok"] is True


def test_the_outbox_shows_what_amazon_and_the_erp_are_to_receive(demo_day: Path) -> None:
    db = f"sqlite:///{demo_day / 'returnbridge.db'}"
    summary = json.loads((demo_day / "summary.json").read_text())
    listed = rb(
        "outbox", "list", "--status", "all", "--json", "--limit", "100000", "--db", db, cwd=demo_day
    )
    messages = [json.loads(line) for line in listed.stdout.splitlines()]
    pending: dict[str, int] = {}
    for m in messages:
        if m["status"] == "pending":
            pending[m["topic"]] = pending.get(m["topic"], 0) + 1
    assert pending == summary["outbox_pending"]
    stock = [m for m in messages if m["topic"] == "amazon.inventory"]
    journals = [m["payload"] for m in messages if m["topic"] == "erp.journal"]
    assert sum(m["payload"]["delta"] for m in stock) == summary["units"]["restocked"]
    # The demo's clearing cycles delivered the stock changes: sent, rejected by Amazon, or
    # netted (the position Amazon already held, or was sent, said the same).
    assert {m["status"] for m in stock} <= {"sent", "rejected", "netted"}
    assert any(m["status"] == "sent" for m in stock)
    assert len(journals) == summary["journals"]["entries"]
    for entry in journals:
        postings = entry["postings"]
        assert sum(p["debit"] for p in postings) == sum(p["credit"] for p in postings)


def test_the_demo_delivers_the_day_to_amazon_through_faults_with_nothing_lost(
    tmp_path: Path,
) -> None:
    out = tmp_path / "faults"
    rb(
        "demo",
        "--returns",
        "2000",
        "--seed",
        "7",
        "--amazon-faults",
        "0.2",
        "--transport",
        "csv",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    amazon = json.loads((out / "summary.json").read_text())["amazon"]
    assert amazon["stock_mismatches"] == 0
    # Amazon holds the opening snapshot plus the restocks since, never the returns alone, and
    # only under its own warehouse ids (the DCs are UK-DC1, UK-DC2 and DE-DC1).
    stock = amazon["stock"]
    assert stock["below_opening"] == 0 and stock["positions_sent"] > 0
    assert stock["warehouses"] == ["CASTDE-FRA", "CASTUK-LHR", "CASTUK-MAN"]
    held = ("held_missing", "held_stale", "held_drop", "unmapped_warehouse")
    assert [stock[k] for k in held] == [0, 0, 0, 0]
    assert amazon["retries"] > 0 and amazon["calls"] - amazon["retries"] == amazon["min_calls"]
    assert amazon["rejected_items"] == amazon["sandbox_rejected_items"] > 0
    assert amazon["rejections_unmatched"] == 0  # the same records, not just as many
    assert amazon["rejected_lines"] >= amazon["rejected_items"]
    assert amazon["naive_calls"] >= 50 * amazon["min_calls"]
    # Every return's credit reached Amazon once, or is held by an open AMAZON_* exception.
    assert amazon["credit_notes"] > 1000 and amazon["credit_mismatches"] == 0
    assert amazon["credited_minor"] <= amazon["credit_owed_minor"]
