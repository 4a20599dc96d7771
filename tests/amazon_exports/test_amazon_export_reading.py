"""Reading Vendor Central exports: good rows become facts or events, bad rows are kept and named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from amazon_export_support import GOOD, row, write

from returnbridge.connectors.amazon import refunds
from returnbridge.connectors.amazon.vendor_exports import (
    ExportKind,
    VendorExportFileError,
    read_vendor_export,
)
from returnbridge.domain.events import EventType
from returnbridge.domain.money import Money
from returnbridge.entrypoints.cli.demo import _refund_records
from returnbridge.sandboxes.amazon.exports import VendorExportFiles, write_vendor_exports
from returnbridge.sandboxes.zigzag.generator import DemoDay
from returnbridge.services.ports import InboxRecord
from returnbridge.services.vendor_exports import (
    Deduction,
    ExportedFact,
    ExportItem,
    RemittanceLine,
    ReturnRequest,
    StandardRefund,
)

RR, REFUNDS, REMITTANCE = ExportKind.RETURN_REQUESTS, ExportKind.REFUNDS, ExportKind.REMITTANCE


def read(path: Path, kind: ExportKind) -> list[ExportItem]:
    return list(read_vendor_export(path, kind))


def facts(items: list[ExportItem]) -> list[object]:
    assert all(isinstance(i, ExportedFact) for i in items), items
    return [i.fact for i in items if isinstance(i, ExportedFact)]


# -- good rows ------------------------------------------------------------------------------------


def test_a_return_request_row_becomes_a_fact_in_minor_units_and_utc(folder: Path) -> None:
    path = write(
        folder / "rr.csv",
        [row(RR), row(RR, request_id="RR-2", vendor_code="casto", condition="Damaged", rma_id="")],
    )
    first, second = facts(read(path, RR))
    assert first == ReturnRequest(
        "RR-1",
        "CASTO",
        "204-8827143-1816728",
        "B010EPF91D",
        2,
        1,
        Money(3028, "GBP"),
        "sellable",
        datetime(2026, 11, 2, tzinfo=UTC),
        "VRET12345678",
    )
    assert isinstance(second, ReturnRequest)
    assert (second.vendor_code, second.condition, second.rma_id) == ("CASTO", "damaged", None)


def test_the_header_may_come_in_any_order_and_case_with_a_byte_order_mark(folder: Path) -> None:
    columns = [c.upper() for c in reversed(GOOD[RR])]
    path = write(folder / "rr.csv", [[GOOD[RR][c.lower()] for c in columns]], header=columns)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (fact,) = facts(read(path, RR))
    assert isinstance(fact, ReturnRequest) and fact.request_id == "RR-1"


def test_times_without_a_zone_are_utc_and_other_zones_are_converted(folder: Path) -> None:
    path = write(
        folder / "refunds.csv",
        [
            row(REFUNDS, refund_id="a", refunded_at="2026-11-02T08:37:00"),
            row(REFUNDS, refund_id="b", refunded_at="2026-11-02T09:37:00+01:00"),
            row(REFUNDS, refund_id="c", refunded_at="2026-11-02 08:37:00Z"),
        ],
        kind=REFUNDS,
    )
    moments = {f.refunded_at for f in facts(read(path, REFUNDS)) if isinstance(f, StandardRefund)}
    assert moments == {datetime(2026, 11, 2, 8, 37, tzinfo=UTC)}
    assert next(iter(moments)).utcoffset() is not None


def test_a_standard_refund_is_a_fact_and_not_an_event(folder: Path) -> None:
    path = write(folder / "refunds.csv", [row(REFUNDS)], kind=REFUNDS)
    (fact,) = facts(read(path, REFUNDS))
    assert fact == StandardRefund(
        "amzn-ref-1",
        "204-8827143-1816728",
        "B010EPF91D",
        1,
        Money(3028, "GBP"),
        datetime(2026, 11, 2, 8, 37, tzinfo=UTC),
    )


def test_a_refund_at_first_scan_becomes_the_inbox_event_the_json_feed_stores(
    folder: Path,
) -> None:
    path = write(
        folder / "refunds.csv",
        [row(REFUNDS, refund_id="amzn-rfs-1", refund_type="rfs", amount="30.2")],
        kind=REFUNDS,
    )
    (record,) = read(path, REFUNDS)
    assert isinstance(record, InboxRecord) and record.invalid_reason is None
    assert (record.source, record.event_id, record.event_type, record.case_key) == (
        "amazon",
        "amzn-rfs-1",
        "refund.first_scan",
        "order:204-8827143-1816728",
    )
    assert json.loads(record.payload) == {
        "id": "amzn-rfs-1",
        "type": "refund.first_scan",
        "orderId": "204-8827143-1816728",
        "asin": "B010EPF91D",
        "quantity": 1,
        "amount": "30.20",
        "currency": "GBP",
        "refundedAt": "2026-11-02T08:37:00Z",
    }
    event = refunds.decode(record.source, record.event_id, record.payload)
    assert event.type is EventType.REFUND_AT_FIRST_SCAN and event.order_ref == record.case_key[6:]


def test_a_remittance_line_keeps_its_sign_and_its_deductions(folder: Path) -> None:
    path = write(
        folder / "remittance.csv",
        [
            row(REMITTANCE),
            row(
                REMITTANCE,
                line_no="2",
                document_number="INV-9",
                document_type="invoice",
                amount="1000",
                deductions="COOP=12.50 | DAMAGE_ALLOWANCE=3",
                description="",
            ),
        ],
        kind=REMITTANCE,
    )
    credit, invoice = facts(read(path, REMITTANCE))
    assert credit == RemittanceLine(
        "70000001",
        "RBCN-123",
        1,
        "credit_note",
        Money(-3028, "GBP"),
        datetime(2026, 11, 30, tzinfo=UTC),
        (),
        "Returns credit",
    )
    assert isinstance(invoice, RemittanceLine)
    assert invoice.amount == Money(100_000, "GBP") and invoice.document_type == "invoice"
    assert invoice.deductions == (Deduction("COOP", 1250), Deduction("DAMAGE_ALLOWANCE", 300))
    assert invoice.deductions_total == 1550


def test_the_generated_day_reads_without_a_problem(day_files: VendorExportFiles) -> None:
    for path, kind in (
        (day_files.return_requests, RR),
        (day_files.refunds, REFUNDS),
        (day_files.remittance, REMITTANCE),
    ):
        items = read(path, kind)
        assert items, kind
        bad = [i for i in items if isinstance(i, InboxRecord) and i.invalid_reason]
        assert bad == [], bad[:3]


def test_the_same_day_gives_the_same_files_paying_credit_notes_with_deductions(
    day: DemoDay, folder: Path
) -> None:
    first = write_vendor_exports(day, folder / "a")
    second = write_vendor_exports(day, folder / "b")
    for name in ("return_requests", "refunds", "remittance"):
        assert getattr(first, name).read_bytes() == getattr(second, name).read_bytes()
    lines = [f for f in facts(read(first.remittance, REMITTANCE)) if isinstance(f, RemittanceLine)]
    notes = [f for f in lines if f.document_number.startswith("RBCN-")]
    assert notes and all(f.document_type == "credit_note" and f.amount.amount < 0 for f in notes)
    assert any(f.deductions for f in lines) and len({f.payment_id for f in lines}) > 1


def test_the_rfs_rows_of_a_generated_day_are_the_records_the_json_refunds_give(
    day_files: VendorExportFiles,
) -> None:
    events = [i for i in read(day_files.refunds, REFUNDS) if isinstance(i, InboxRecord)]
    from_json = _refund_records(day_files.refunds.parent / "refunds.jsonl")
    assert from_json and events == from_json
    standard = [i for i in read(day_files.refunds, REFUNDS) if isinstance(i, ExportedFact)]
    assert standard, "the day has standard refunds too"


# -- bad rows -------------------------------------------------------------------------------------

BAD_CELLS = [
    (RR, "request_id", "", "is empty (required)"),
    (RR, "vendor_code", "CAS-TO", "'CAS-TO' is not a vendor code"),
    (RR, "asin", "12345", "is not an ASIN"),
    (RR, "asin", "1234567890", "is not an ASIN"),
    (RR, "quantity_requested", "1.5", "'1.5' is not a whole number"),
    (RR, "quantity_requested", "0", "greater than or equal to 1"),
    (RR, "quantity_approved", "3", "3 approved is more than the 2 requested"),
    (RR, "refund_amount", "1.005", "not an amount with at most two decimals"),
    (RR, "refund_amount", "-1.00", "greater than or equal to 0"),
    (RR, "currency", "GB", "'GB' is not a 3-letter ISO code"),
    (RR, "order_id", "9" * 101, "at most 100 characters (got '99999"),
    (RR, "condition", "mint", "'mint' is not one of damaged, sellable"),
    (RR, "request_date", "02/11/2026", "'02/11/2026' is not a date"),
    (REFUNDS, "refund_type", "partial", "'partial' is not one of rfs, standard"),
    (REFUNDS, "quantity", "10001", "less than or equal to 10000"),
    (REFUNDS, "amount", "", "is empty (required)"),
    (REFUNDS, "refunded_at", "yesterday", "'yesterday' is not a date"),
    (REFUNDS, "refunded_at", "0001-01-01T00:30:00+01:00", "is not a date"),
    (REMITTANCE, "line_no", "x", "'x' is not a whole number"),
    (REMITTANCE, "amount", "12.345", "not an amount with at most two decimals"),
    (REMITTANCE, "document_type", "receipt", "is not one of credit_note, invoice"),
    (REMITTANCE, "deductions", "COOP", "'COOP' is not TYPE=amount"),
    (REMITTANCE, "deductions", "COOP=-1", "deduction 'COOP': '-1' is not from 0 to"),
    (REMITTANCE, "payment_date", "2026-13-01", "is not a date"),
]


@pytest.mark.parametrize(("kind", "column", "value", "why"), BAD_CELLS)
def test_a_bad_cell_is_kept_raw_with_a_reason_naming_the_row_and_field(
    folder: Path, kind: ExportKind, column: str, value: str, why: str
) -> None:
    path = write(
        folder / "export.csv",
        [row(kind, **{column: value}), row(kind)],
        kind=kind,
    )
    bad, good = read(path, kind)
    assert isinstance(bad, InboxRecord) and bad.source == "amazon"
    assert bad.invalid_reason is not None
    assert bad.invalid_reason.startswith(f"export.csv row 2, field '{column}': "), bad
    assert why in bad.invalid_reason
    raw = path.read_text().splitlines()[1]
    assert bad.payload == raw
    # The rest of the file still reads, the good RFS-or-fact row included.
    assert isinstance(good, ExportedFact | InboxRecord)
    assert not (isinstance(good, InboxRecord) and good.invalid_reason)


def test_rows_that_are_not_well_formed_are_kept_and_the_file_goes_on(folder: Path) -> None:
    cells = list(GOOD[RR].values())
    path = write(folder / "rr.csv", [cells[:4], [*cells[:-1], "x" * 1001], []])
    good = ",".join(cells)
    bad_bytes = good.replace("RR-1", "RR-\udcff").encode("utf-8", "surrogateescape")
    path.write_bytes(path.read_bytes() + bad_bytes + b"\r\n" + good.encode() + b"\r\n")
    items = read(path, RR)
    reasons = [i.invalid_reason for i in items if isinstance(i, InboxRecord)]
    assert reasons[0] == "rr.csv row 2: has 4 cells, the header has 11"
    assert reasons[1] == "rr.csv row 3, field 'rma_id': is 1001 characters (limit 1000)"
    assert reasons[2] == "rr.csv row 5, field 'request_id': is not valid UTF-8"
    assert len(items) == 4 and isinstance(items[3], ExportedFact)  # the blank row is skipped
    unreadable = items[2]
    assert isinstance(unreadable, InboxRecord) and unreadable.payload.startswith("RR-\\xff,")


def test_the_same_bad_row_gets_the_same_key_under_any_file_name(folder: Path) -> None:
    first = write(folder / "a.csv", [row(RR, asin="x")])
    second = write(folder / "b.csv", [row(RR), row(RR, asin="x")])
    (a,) = read(first, RR)
    _, b = read(second, RR)
    assert isinstance(a, InboxRecord) and isinstance(b, InboxRecord)
    assert a.event_id == b.event_id and a.event_id.startswith("return-requests:RR-1#unreadable-")
    assert a.invalid_reason != b.invalid_reason  # each names its own file and row


# -- bad files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ([*GOOD[RR], "notes"], "rr.csv: unknown column(s) notes"),
        ([c for c in GOOD[RR] if c not in ("asin", "currency")], "lacks column(s) asin, currency"),
        ([*GOOD[RR], "ASIN"], "rr.csv: column(s) asin repeated"),
    ],
)
def test_a_header_that_breaks_the_format_refuses_the_whole_file(
    folder: Path, header: list[str], message: str
) -> None:
    path = write(folder / "rr.csv", [], header=header)
    with pytest.raises(
        VendorExportFileError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        read(path, RR)


def test_an_empty_file_is_refused(folder: Path) -> None:
    path = folder / "rr.csv"
    path.write_text("")
    with pytest.raises(VendorExportFileError, match="the file is empty"):
        read(path, RR)


def test_the_export_of_another_kind_is_refused_by_its_header(folder: Path) -> None:
    path = write(folder / "refunds.csv", [row(REFUNDS)], kind=REFUNDS)
    with pytest.raises(VendorExportFileError, match="lacks column"):
        read(path, REMITTANCE)


# -- the documentation's examples -----------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "amazon-exports.md"


def blocks(language: str) -> list[str]:
    parts = DOC.read_text(encoding="utf-8").split(f"```{language}\n")[1:]
    return [part.split("```", 1)[0] for part in parts]


def test_every_example_in_the_documentation_reads_as_it_says(folder: Path) -> None:
    kinds = {"request_id": RR, "refund_id": REFUNDS, "payment_id": REMITTANCE}
    read_kinds = set()
    for number, text in enumerate(blocks("csv")):
        kind = kinds[text.split(",", 1)[0]]
        path = folder / f"example-{number}.csv"
        path.write_text(text, encoding="utf-8")
        items = read(path, kind)
        assert len(items) == len(text.splitlines()) - 1
        assert not [i for i in items if isinstance(i, InboxRecord) and i.invalid_reason]
        read_kinds.add(kind)
        if kind is REFUNDS:
            (rfs,) = [i for i in items if isinstance(i, InboxRecord)]
            (stored,) = blocks("json")
            assert json.loads(rfs.payload) == json.loads(stored)
            assert rfs.payload == stored.strip()
    assert read_kinds == {RR, REFUNDS, REMITTANCE}


def test_a_header_that_is_not_utf8_is_refused_in_printable_words(folder: Path) -> None:
    path = folder / "rr.csv"
    path.write_bytes(",".join(GOOD[RR]).encode() + b",n\xf6tes\r\n")
    with pytest.raises(VendorExportFileError, match=r"unknown column\(s\) n\\xf6tes") as caught:
        read(path, RR)
    caught.value.message.encode("utf-8")  # printable: no lone surrogates
