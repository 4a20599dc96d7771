"""Stock adjustments in the ERP export: every stock movement (``erp.stock``) is one
``stock_adjustment`` row, in the same batch as the journals, once, carrying units and no money."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from erp_support import (
    a_day,
    db_movements,
    journal_rows,
    read_csv,
    read_jsonl,
    regrade,
    stock_rows,
    unbalanced_journal,
)
from pipeline_support import full_return, send
from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.entrypoints.cli.erp import export_erp
from returnbridge.services.erp_export import (
    COLUMNS,
    ErpBatchUnbalanced,
    ErpExportReport,
    StockMessage,
    build_batch,
)
from returnbridge.store.tables import outbox

NEW_COLUMNS = ("warehouse", "quantity", "occurred_at")


def occurred(event_id: str, *events: dict[str, object]) -> datetime:
    (event,) = [e for e in events if e["id"] == event_id]
    return datetime.fromisoformat(str(event["occurredAt"]))


def erp_outbox(rb: App) -> list[tuple[int, str, str]]:
    """(outbox id, topic, status) of every ERP message."""
    with rb.engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.id, outbox.c.topic, outbox.c.status)
            .where(outbox.c.topic.in_(["erp.journal", "erp.stock"]))
            .order_by(outbox.c.id)
        )
        return [(r.id, r.topic, r.status) for r in rows]


def test_a_restocked_line_yields_one_stock_adjustment_with_warehouse_sku_units_and_grading_time(
    rb: App, tmp_path: Path
) -> None:
    events = full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2)
    send(rb, *events)
    report = export_erp(rb, tmp_path, deliver=False)
    (key,) = report.recorded
    assert (report.entries, report.adjustments) == (1, 1)
    rows = read_jsonl(tmp_path / f"{key}.jsonl")
    (row,) = stock_rows(rows)
    ((movement, (warehouse, sku, units, at)),) = db_movements(rb).items()
    graded = occurred("R1-grd", *events)
    # Business time: when the warehouse graded the units, not when returnbridge processed them.
    assert at == graded
    assert row == {
        "batch": key,
        "journal_id": movement,
        "posting": 1,
        "date": graded.date().isoformat(),
        "kind": "stock_adjustment",
        "reverses": None,
        "gl_account": None,
        "debit": 0,
        "credit": 0,
        "currency": None,
        "return_id": "R1",
        "case": row["case"],
        "line_id": "1",
        "sku": "CAS-123-BLK-M",
        "disposition": None,
        "source_event": "zigzag/R1-grd",
        "memo": "restock 2 x CAS-123-BLK-M at UK-DC1, return R1 line 1",
        "warehouse": "UK-DC1",
        "quantity": 2,
        "occurred_at": graded.isoformat(),
    }
    assert (warehouse, sku, units) == ("UK-DC1", "CAS-123-BLK-M", 2)
    (journal,) = {r["case"] for r in journal_rows(rows)}
    assert row["case"] == journal
    # The CSV says the same, with empty fields where the JSON has nulls.
    (csv_row,) = stock_rows(read_csv(tmp_path / f"{key}.csv"))
    assert (csv_row["gl_account"], csv_row["currency"], csv_row["quantity"]) == ("", "", "2")
    assert csv_row["occurred_at"] == graded.isoformat()


def test_a_batch_takes_journals_and_stock_movements_together_named_by_their_outbox_ids(
    rb: App, tmp_path: Path
) -> None:
    a_day(rb)
    messages = erp_outbox(rb)
    assert {topic for _, topic, _ in messages} == {"erp.journal", "erp.stock"}
    (key,) = export_erp(rb, tmp_path, deliver=False).recorded
    assert key == f"erp-{messages[0][0]}-{messages[-1][0]}"
    assert {status for _, _, status in erp_outbox(rb)} == {"exported"}
    # Rows in outbox order: R1's restock comes with (before) its journal entry.
    kinds = [r["kind"] for r in read_jsonl(tmp_path / f"{key}.jsonl")]
    assert kinds.count("stock_adjustment") == 1


def test_a_regrade_away_from_a_exports_a_negative_stock_adjustment(rb: App, tmp_path: Path) -> None:
    a_day(rb)
    (first,) = export_erp(rb, tmp_path, deliver=False).recorded
    regrade(rb, "R1", "D", "DESTROY")
    report = export_erp(rb, tmp_path, deliver=False)
    (second,) = report.recorded
    assert report.adjustments == 1
    (restock,) = stock_rows(read_jsonl(tmp_path / f"{first}.jsonl"))
    (unstock,) = stock_rows(read_jsonl(tmp_path / f"{second}.jsonl"))
    assert (unstock["warehouse"], unstock["sku"], unstock["quantity"]) == (
        "UK-DC1",
        "CAS-123-BLK-M",
        -2,
    )
    assert unstock["memo"] == "unstock 2 x CAS-123-BLK-M at UK-DC1, return R1 line 1"
    assert unstock["source_event"] == "zigzag/R1-regrade"
    assert unstock["journal_id"] != restock["journal_id"]
    assert unstock["occurred_at"] == db_movements(rb)[unstock["journal_id"]][3].isoformat()
    # The ERP's on-hand from the adjustments equals returnbridge's stock for the line: none.
    assert restock["quantity"] + unstock["quantity"] == 0


def test_a_rerun_exports_no_stock_adjustment_twice(rb: App, tmp_path: Path) -> None:
    a_day(rb)
    (first,) = export_erp(rb, tmp_path, deliver=False).recorded
    assert export_erp(rb, tmp_path, deliver=False) == ErpExportReport()
    regrade(rb, "R1", "D", "DESTROY")
    send(rb, *full_return("R4", "CAS-456-WHT-L", "A", "RESTOCK", qty=3))
    (second,) = export_erp(rb, tmp_path, deliver=False).recorded
    assert export_erp(rb, tmp_path, deliver=False) == ErpExportReport()
    keys = [
        r["journal_id"]
        for batch in (first, second)
        for r in stock_rows(read_jsonl(tmp_path / f"{batch}.jsonl"))
    ]
    assert sorted(keys) == sorted(db_movements(rb)) and len(keys) == 3
    assert {status for _, _, status in erp_outbox(rb)} == {"exported"}


def test_journal_rows_leave_the_stock_columns_empty(rb: App, tmp_path: Path) -> None:
    assert COLUMNS[-3:] == NEW_COLUMNS  # added at the end only
    a_day(rb)
    (key,) = export_erp(rb, tmp_path, deliver=False).recorded
    as_json = journal_rows(read_jsonl(tmp_path / f"{key}.jsonl"))
    as_csv = journal_rows(read_csv(tmp_path / f"{key}.csv"))
    assert as_json and len(as_json) == len(as_csv)
    assert all(row[c] is None for row in as_json for c in NEW_COLUMNS)
    assert all(row[c] == "" for row in as_csv for c in NEW_COLUMNS)


def test_a_stock_adjustment_is_dated_by_the_utc_day_of_its_grading_and_carries_no_money() -> None:
    stock = StockMessage(
        3,
        {
            "movement_key": "12/1/1",
            "warehouse": "DE-DC1",
            "sku": "CAS-123-BLK-M",
            "delta": 1,
            "line_id": "1",
            "occurred_at": "2026-11-02T00:30:00+02:00",
            "return_id": None,
            "case": 12,
        },
    )
    batch = build_batch("erp-3-3", [stock])
    (row,) = batch.rows
    assert (row["date"], row["occurred_at"]) == ("2026-11-01", "2026-11-01T22:30:00+00:00")
    assert row["memo"] == "restock 1 x CAS-123-BLK-M at DE-DC1, case 12 line 1"
    assert (batch.entries, batch.adjustments, batch.lines, batch.totals) == (0, 1, 0, ())
    body = batch.body()
    assert body["lines"] == [] and body["stock_adjustments"] == [row]


def test_a_stock_adjustment_does_not_hide_an_unbalanced_journal() -> None:
    at = datetime.fromisoformat("2026-11-02T09:00:00+00:00")
    journal = unbalanced_journal(at)
    stock = StockMessage(
        6,
        {
            "movement_key": "1/1/1",
            "warehouse": "UK-DC1",
            "sku": "CAS-123-BLK-M",
            "delta": 1,
            "line_id": "1",
            "occurred_at": at.isoformat(),
            "return_id": "R1",
            "case": 1,
        },
    )
    with pytest.raises(ErpBatchUnbalanced, match=r"erp-6-7: journal 1/1/1"):
        build_batch("erp-6-7", [journal, stock])
