"""Storing Vendor Central exports, on SQLite and on PostgreSQL: once each, bad rows kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from amazon_export_support import import_file, row, write
from sqlalchemy import func, select

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.vendor_exports import ExportKind, read_vendor_export
from returnbridge.domain.errors import ExceptionCode
from returnbridge.entrypoints.cli.demo import _refund_records
from returnbridge.sandboxes.amazon.exports import VendorExportFiles
from returnbridge.services.pipeline import ingest_stream
from returnbridge.services.vendor_exports import (
    ExportedFact,
    RemittanceLine,
    ReturnRequest,
    StandardRefund,
)
from returnbridge.store.tables import inbox, return_cases
from returnbridge.store.vendor_exports import vendor_export_transaction

pytestmark = pytest.mark.integration
RR, REFUNDS, REMITTANCE = ExportKind.RETURN_REQUESTS, ExportKind.REFUNDS, ExportKind.REMITTANCE
KINDS = (
    (RR, ReturnRequest.kind),
    (REFUNDS, StandardRefund.kind),
    (REMITTANCE, RemittanceLine.kind),
)


def stored(rb: App, kind: str) -> list[object]:
    with vendor_export_transaction(rb.engine) as store:
        return list(store.amazon_facts(kind))


def inbox_rows(rb: App) -> list[tuple[object, ...]]:
    with rb.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(
                    inbox.c.source,
                    inbox.c.event_id,
                    inbox.c.event_type,
                    inbox.c.case_key,
                    inbox.c.payload,
                    inbox.c.status,
                ).order_by(inbox.c.id)
            )
        ]


def files_of(day_files: VendorExportFiles) -> dict[ExportKind, Path]:
    return {
        RR: day_files.return_requests,
        REFUNDS: day_files.refunds,
        REMITTANCE: day_files.remittance,
    }


def test_a_generated_day_is_stored_as_read_and_a_second_import_changes_nothing(
    rb: App, day_files: VendorExportFiles
) -> None:
    files = files_of(day_files)
    for kind, fact_kind in KINDS:
        read = list(read_vendor_export(files[kind], kind))
        facts = [i.fact for i in read if isinstance(i, ExportedFact)]
        result = import_file(rb, files[kind], kind, batch_size=37)
        assert (result.accepted, result.duplicates, result.unreadable, result.conflicts) == (
            len(read),
            0,
            0,
            0,
        )
        assert result.events == len(read) - len(facts)
        assert stored(rb, fact_kind) == facts  # money, times and deductions round-trip
    before = {kind: stored(rb, fact_kind) for kind, fact_kind in KINDS}
    events = inbox_rows(rb)
    for kind, _ in KINDS:
        again = import_file(rb, files[kind], kind, batch_size=50)
        assert again.accepted == again.events == again.unreadable == again.conflicts == 0
        assert again.duplicates > 0
    assert {kind: stored(rb, fact_kind) for kind, fact_kind in KINDS} == before
    assert inbox_rows(rb) == events


def test_rfs_rows_give_exactly_the_inbox_rows_the_json_refunds_give(
    rb: App, day_files: VendorExportFiles
) -> None:
    result = import_file(rb, day_files.refunds, REFUNDS)
    records = _refund_records(day_files.refunds.parent / "refunds.jsonl")
    assert result.events == len(records) > 0
    assert inbox_rows(rb) == [
        (r.source, r.event_id, r.event_type, r.case_key, r.payload, "pending") for r in records
    ]
    # The JSON path, run after, finds every one of them already stored.
    json_path = ingest_stream(rb.stores, records, rb.clock)
    assert (json_path.accepted, json_path.duplicates) == (0, len(records))


def test_processing_the_rfs_rows_opens_provisional_cases_as_before(
    rb: App, day_files: VendorExportFiles
) -> None:
    import_file(rb, day_files.refunds, REFUNDS)
    stats = rb.processor.drain()
    orders = {r.case_key for r in _refund_records(day_files.refunds.parent / "refunds.jsonl")}
    assert (stats.processed, stats.invalid, stats.failed) == (len(orders), 0, 0)
    with rb.engine.connect() as conn:
        cases = conn.execute(select(return_cases.c.case_key, return_cases.c.provisional)).all()
    assert {c.case_key for c in cases} == orders and all(c.provisional for c in cases)


def test_unreadable_rows_are_kept_raw_as_exceptions_a_person_can_list(
    rb: App, folder: Path
) -> None:
    path = write(
        folder / "rr.csv",
        [row(RR), row(RR, request_id="RR-2", asin="nope"), row(RR, request_id="RR-3")],
    )
    result = import_file(rb, path, RR)
    assert (result.accepted, result.unreadable, result.duplicates) == (2, 1, 0)
    assert result.problems == [
        "rr.csv row 3, field 'asin': 'nope' is not an ASIN (10 letters and digits, not all digits)"
    ]
    with rb.stores() as store:
        (exc,) = store.list_exceptions("open", ExceptionCode.INVALID_EVENT, 10)
    assert exc.raw == path.read_text().splitlines()[2]
    assert "rr.csv row 3, field 'asin'" in exc.message and exc.inbox_id is not None
    again = import_file(rb, path, RR)
    assert (again.accepted, again.unreadable, again.duplicates) == (0, 0, 3)
    with rb.stores() as store:
        assert len(store.list_exceptions(None, ExceptionCode.INVALID_EVENT, 10)) == 1


def test_a_known_key_with_other_values_is_a_conflict_and_the_stored_row_stands(
    rb: App, folder: Path
) -> None:
    first = write(folder / "remittance.csv", [row(REMITTANCE)], kind=REMITTANCE)
    import_file(rb, first, REMITTANCE)
    changed = write(
        folder / "remittance-2.csv",
        [row(REMITTANCE), row(REMITTANCE, amount="-30.00"), row(REMITTANCE, line_no="2")],
        kind=REMITTANCE,
    )
    result = import_file(rb, changed, REMITTANCE)
    assert (result.accepted, result.duplicates, result.conflicts) == (1, 1, 1)
    (problem,) = result.problems
    assert problem.startswith("remittance-2.csv row 3: remittance line 70000001/RBCN-123/1 ")
    assert "'amount' -30.28 GBP stored, -30.00 GBP in this row" in problem
    (line, _) = stored(rb, RemittanceLine.kind)
    assert isinstance(line, RemittanceLine) and line.amount.amount == -3028
    with rb.stores() as store:
        (exc,) = store.list_exceptions("open", ExceptionCode.INVALID_EVENT, 10)
    assert exc.raw == changed.read_text().splitlines()[2]
    again = import_file(rb, changed, REMITTANCE)
    assert (again.accepted, again.duplicates, again.conflicts) == (0, 3, 0)


def test_a_key_twice_in_one_file_is_stored_once(rb: App, folder: Path) -> None:
    path = write(
        folder / "refunds.csv",
        [
            row(REFUNDS),
            row(REFUNDS),
            row(REFUNDS, refund_type="rfs", refund_id="r"),
            row(REFUNDS, refund_type="rfs", refund_id="r"),
        ],
        kind=REFUNDS,
    )
    result = import_file(rb, path, REFUNDS)
    assert (result.accepted, result.events, result.duplicates) == (2, 1, 2)
    with rb.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(inbox)).scalar_one() == 1
    assert len(stored(rb, StandardRefund.kind)) == 1
