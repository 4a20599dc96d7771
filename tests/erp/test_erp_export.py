"""The ERP journal export: each batch's file pair holds exactly the journals not yet exported,
once, and a crash between recording and writing a batch writes the same files again."""

from __future__ import annotations

from collections import Counter
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from erp_support import (
    a_day,
    db_journals,
    db_movements,
    file_totals,
    journal_rows,
    read_csv,
    read_jsonl,
    regrade,
    stock_rows,
    unbalanced_journal,
)
from sqlalchemy import func, select

from returnbridge.bootstrap import App
from returnbridge.connectors.erp import ErpFileWriter
from returnbridge.entrypoints.cli.erp import export_erp
from returnbridge.services.erp_export import (
    ErpBatch,
    ErpBatchUnbalanced,
    ErpExporter,
    ErpExportReport,
    build_batch,
)
from returnbridge.store.erp_export import SqlErpExportStore, erp_transaction
from returnbridge.store.tables import erp_exports, outbox


def exporter(rb: App, out: Path, writer: object = None) -> ErpExporter:
    def stores() -> AbstractContextManager[SqlErpExportStore]:
        return erp_transaction(rb.engine)

    return ErpExporter(stores, writer or ErpFileWriter(out), rb.clock)  # type: ignore[arg-type]


class CrashingWriter:
    def write(self, batch: ErpBatch) -> list[str]:
        raise OSError("disk gone between recording and writing")


def pending_journals(rb: App) -> int:
    with rb.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.topic == "erp.journal", outbox.c.status == "pending")
            ).scalar_one()
        )


def test_a_days_journals_become_one_batch_whose_rows_are_the_journal_lines(
    rb: App, tmp_path: Path
) -> None:
    a_day(rb)
    report = export_erp(rb, tmp_path, deliver=False)
    (key,) = report.recorded
    assert report.files == [f"{key}.csv", f"{key}.jsonl"]
    rows = read_csv(tmp_path / f"{key}.csv")
    lines, totals, entries = db_journals(rb)
    assert len(journal_rows(rows)) == report.lines == lines
    assert report.entries == len(entries)
    assert file_totals(rows) == totals  # the stock adjustments among them carry no money
    assert {r["journal_id"] for r in journal_rows(rows)} == entries
    # The JSON lines say the same as the CSV, with integers and nulls.
    as_json = read_jsonl(tmp_path / f"{key}.jsonl")
    assert [{k: "" if v is None else str(v) for k, v in r.items()} for r in as_json] == rows
    fee = next(r for r in as_json if r["kind"] == "charge" and r["debit"])
    assert fee["debit"] == 450 and fee["currency"] == "GBP" and fee["return_id"] == "R2"
    assert fee["date"] == "2026-11-02" and fee["source_event"] == "zigzag/R2-charge-800"
    restock = next(r for r in as_json if r["return_id"] == "R1" and r["debit"])
    assert (restock["sku"], restock["disposition"], restock["debit"]) == (
        "CAS-123-BLK-M",
        "RESTOCK",
        4000,
    )
    assert pending_journals(rb) == 0


def test_a_second_export_with_nothing_new_writes_nothing(rb: App, tmp_path: Path) -> None:
    a_day(rb)
    export_erp(rb, tmp_path, deliver=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    again = export_erp(rb, tmp_path, deliver=False)
    assert again == ErpExportReport()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_new_journals_and_a_reversal_go_in_the_next_batch_only(rb: App, tmp_path: Path) -> None:
    a_day(rb)
    (first,) = export_erp(rb, tmp_path, deliver=False).recorded
    first_rows = read_jsonl(tmp_path / f"{first}.jsonl")
    regrade(rb, "R1", "D", "DESTROY")
    (second,) = export_erp(rb, tmp_path, deliver=False).recorded
    rows = read_jsonl(tmp_path / f"{second}.jsonl")
    assert {r["return_id"] for r in rows} == {"R1"}
    assert Counter(r["kind"] for r in rows) == {
        "reversal": 2,
        "disposition": 2,
        "stock_adjustment": 1,
    }
    reversed_entry = next(r["reverses"] for r in rows if r["kind"] == "reversal")
    assert reversed_entry in {r["journal_id"] for r in first_rows}
    # Every journal line is in exactly one batch.
    lines, totals, entries = db_journals(rb)
    every = journal_rows(first_rows + rows)
    assert len(every) == lines and file_totals(every) == totals
    assert {r["journal_id"] for r in every} == entries
    assert not {r["journal_id"] for r in first_rows} & {r["journal_id"] for r in rows}


def test_a_crash_after_recording_writes_the_same_files_on_the_next_run(
    rb: App, tmp_path: Path
) -> None:
    a_day(rb)
    out = tmp_path / "out"
    with pytest.raises(OSError):
        exporter(rb, out, CrashingWriter()).run()
    assert pending_journals(rb) == 0  # recorded: the batch owns its messages
    assert not out.exists()
    regrade(rb, "R3", "A", "RESTOCK")  # journals posted after the crash wait for the next batch
    report = exporter(rb, out).run()
    crashed, fresh = report.written
    assert report.recorded == [fresh]
    # The crashed batch, written now, is the same as written by a person asking again.
    again = tmp_path / "again"
    exporter(rb, again).rewrite(crashed)
    for suffix in (".csv", ".jsonl"):
        assert (out / f"{crashed}{suffix}").read_bytes() == (
            again / f"{crashed}{suffix}"
        ).read_bytes()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    both = read_jsonl(out / f"{crashed}.jsonl") + read_jsonl(out / f"{fresh}.jsonl")
    every = journal_rows(both)
    lines, totals, _ = db_journals(rb)
    assert len(every) == lines and file_totals(every) == totals
    assert len({(r["journal_id"], r["posting"]) for r in every}) == lines
    # Each stock movement, the one posted after the crash too, is in exactly one batch.
    assert sorted(r["journal_id"] for r in stock_rows(both)) == sorted(db_movements(rb))
    with rb.engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(erp_exports).order_by(erp_exports.c.id))]
    assert statuses == ["written", "written"]
    assert exporter(rb, out).run() == ErpExportReport()


def test_an_unbalanced_batch_is_refused_before_anything_is_written() -> None:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    message = unbalanced_journal(at)
    with pytest.raises(ErpBatchUnbalanced, match=r"erp-7-7: journal 1/1/1"):
        build_batch("erp-7-7", [message])
