"""ZigZag CSV exports and event payloads: good events flow, bad rows are kept aside and named."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from returnbridge.connectors.zigzag import wire
from returnbridge.connectors.zigzag.csv_export import COLUMNS, CsvFileError, read_export
from returnbridge.domain.errors import InvalidEvent
from returnbridge.domain.events import ChargeFact, EventType, LineFact
from returnbridge.domain.money import Money
from returnbridge.services.ports import InboxRecord

HEAD = {
    "occurred_at": "2026-11-02T06:00:00Z",
    "retailer_code": "CASTORE",
    "order_number": "CAS010000001",
    "return_id": "ZZR-1",
    "dc_warehouse": "UK-DC1",
    "channel_order_ref": "202-1234567-7654321",
}


def cells(event_id: str, event_type: str = "return.received", **values: str) -> list[str]:
    row = {"event_id": event_id, "event_type": event_type, **HEAD, **values}
    return [row.get(column, "") for column in COLUMNS]


def line(event_id: str, line_id: str = "1", **values: str) -> list[str]:
    return cells(event_id, line_id=line_id, quantity="1", **values)


def body(rows: list[list[str]]) -> bytes:
    """Rows as a CSV export writes them, without a header."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def encode(rows: list[list[str]], header: tuple[str, ...] = COLUMNS) -> bytes:
    return body([list(header)]) + body(rows)


def read(path: Path, data: bytes) -> list[InboxRecord]:
    path.write_bytes(data)
    return list(read_export(path))


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return tmp_path / "zigzag-export.csv"


def payload(record: InboxRecord) -> dict[str, Any]:
    assert record.invalid_reason is None, record.invalid_reason
    data = json.loads(record.payload)
    assert isinstance(data, dict)
    return data


# -- good rows ------------------------------------------------------------------------------------


def test_the_rows_of_one_event_become_one_record_with_its_lines(export: Path) -> None:
    rows = [
        cells(
            "E1",
            "return.registered",
            line_id="1",
            sku="CAS-123-BLK-M",
            quantity="2",
            return_reason_id="3",
        ),
        cells(
            "E1",
            "return.registered",
            line_id="2",
            sku="5012345678900",
            quantity="1",
            return_reason_id="1",
        ),
    ]
    (record,) = read(export, encode(rows))
    assert (record.source, record.event_id, record.event_type) == (
        "zigzag",
        "E1",
        "return.registered",
    )
    assert record.case_key == "zz:ZZR-1"
    data = payload(record)
    assert data["returnId"] == "ZZR-1"
    assert data["dcWarehouse"] == "UK-DC1"
    assert data["lines"] == [
        {"lineId": "1", "sku": "CAS-123-BLK-M", "quantity": 2, "returnReasonId": 3},
        {"lineId": "2", "sku": "5012345678900", "quantity": 1, "returnReasonId": 1},
    ]


def test_a_csv_record_decodes_like_the_webhook_payload_it_stands_for(export: Path) -> None:
    (record,) = read(export, encode([line("E1", grade="B", event_type="return.graded")]))
    event = wire.decode(record.source, record.event_id, record.payload)
    assert event.type is EventType.GRADED
    assert event.return_id == "ZZR-1"
    assert event.lines == (LineFact("1", quantity=1, grade="B"),)


def test_a_charge_row_becomes_a_charge_event_without_lines(export: Path) -> None:
    row = cells(
        "E9",
        "charge.created",
        sku="FEE-DAMAGED-ITEM",
        charge_id="CHG-1",
        charge_type="DAMAGED_ITEM_FEE",
        charge_amount="3.20",
        currency="GBP",
    )
    (record,) = read(export, encode([row]))
    data = payload(record)
    assert not data.get("lines")
    assert data["charge"] == {
        "chargeId": "CHG-1",
        "type": "DAMAGED_ITEM_FEE",
        "amount": "3.20",
        "currency": "GBP",
        "sku": "FEE-DAMAGED-ITEM",
    }
    event = wire.decode(record.source, record.event_id, record.payload)
    assert event.charge == ChargeFact(
        "CHG-1", "DAMAGED_ITEM_FEE", Money(320, "GBP"), "FEE-DAMAGED-ITEM"
    )


def test_blank_rows_are_skipped(export: Path) -> None:
    data = encode([line("E1"), [""] * len(COLUMNS), line("E2")])
    assert [r.event_id for r in read(export, data)] == ["E1", "E2"]


def test_progress_is_reported_in_bytes_as_the_file_is_read(export: Path) -> None:
    export.write_bytes(encode([line(f"E{n}") for n in range(2500)]))
    seen: list[int] = []
    records = list(read_export(export, on_bytes=seen.append))
    assert len(records) == 2500
    assert seen and seen == sorted(seen)
    assert seen[-1] <= export.stat().st_size


# -- bad rows -------------------------------------------------------------------------------------

BAD_ROWS: dict[str, tuple[bytes, str, str]] = {
    # name: (bytes of the bad row(s), where, why)
    "truncated": (body([line("BAD")[:7]]), "row 3", "has 7 cells"),
    "unknown-type": (
        body([line("BAD", event_type="return.teleported")]),
        "row 3",
        "type",
    ),
    "negative-quantity": (
        body([cells("BAD", line_id="1", quantity="-2")]),
        "row 3",
        "quantity",
    ),
    "non-utf8": (
        body([line("BAD", sku="CAS-123-BLK-M")]).replace(b"BLK", b"BL\xff"),
        "row 3",
        "not valid UTF-8",
    ),
    "rows-disagree-on-return-id": (
        body([line("BAD", line_id="1"), line("BAD", line_id="2", return_id="ZZR-2")]),
        "rows 3-4",
        "disagree on 'return_id'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_a_bad_row_becomes_one_unreadable_record_and_its_neighbours_still_import(
    export: Path, case: str
) -> None:
    bad, where, why = BAD_ROWS[case]
    records = read(export, encode([line("GOOD-1")]) + bad + body([line("GOOD-2")]))
    assert [r.invalid_reason is None for r in records] == [True, False, True]
    assert [records[0].event_id, records[2].event_id] == ["GOOD-1", "GOOD-2"]
    reason = records[1].invalid_reason
    assert reason is not None
    assert reason.startswith(f"zigzag-export.csv {where}: ")
    assert why in reason
    assert records[1].payload  # the raw row is kept for a person to look at


def test_a_ten_megabyte_field_is_refused_quickly_without_crashing(export: Path) -> None:
    huge = line("BAD", sku="X" * 10_000_000)
    data = encode([line("GOOD-1"), huge, line("GOOD-2")])
    started = time.perf_counter()
    records = read(export, data)
    elapsed = time.perf_counter() - started
    assert [r.invalid_reason is None for r in records] == [True, False, True]
    assert records[1].invalid_reason == (
        "zigzag-export.csv row 3: field 'sku' is 10000000 characters (limit 1000)"
    )
    assert elapsed < 5


def test_an_unreadable_row_keeps_its_undecodable_bytes_as_escapes(export: Path) -> None:
    data = encode([line("BAD", sku="CAS-123-BLK-M")]).replace(b"BLK", b"BL\xff")
    (record,) = read(export, data)
    assert "CAS-123-BL\\xff-M" in record.payload
    assert record.event_id.startswith("BAD#unreadable-")


def test_the_same_bad_row_in_a_file_of_another_name_has_the_same_id(tmp_path: Path) -> None:
    data = encode([line("BAD")[:5]])
    ids = []
    for name in ("monday.csv", "monday-resent.csv"):
        (tmp_path / name).write_bytes(data)
        (record,) = list(read_export(tmp_path / name))
        ids.append(record.event_id)
    assert ids[0] == ids[1]


def test_an_event_exported_twice_in_a_row_is_two_records_of_one_id_not_a_bad_event(
    export: Path,
) -> None:
    rows = [line("E1", line_id="1"), line("E1", line_id="2")] * 2
    records = read(export, encode(rows))
    assert [r.event_id for r in records] == ["E1", "E1"]
    assert all(r.invalid_reason is None for r in records)
    assert records[0].payload == records[1].payload


def test_unreadable_records_of_different_rows_have_different_ids(export: Path) -> None:
    records = read(export, encode([line("BAD1")[:5], line("BAD2")[:6]]))
    assert len({r.event_id for r in records}) == 2


def test_bad_rows_of_one_event_make_one_unreadable_record_naming_each_row(export: Path) -> None:
    (record,) = read(export, encode([line("BAD")[:5], line("BAD")[:6]]))
    assert record.invalid_reason is not None
    assert "rows 2-3" in record.invalid_reason
    assert "row 2 has 5 cells" in record.invalid_reason
    assert "row 3 has 6 cells" in record.invalid_reason


def test_a_bad_row_inside_an_event_does_not_split_it_into_partial_records(export: Path) -> None:
    rows = [line("E1", line_id="1"), line("E1", line_id="2")[:7], line("E1", line_id="3")]
    records = read(export, encode(rows))
    ids = [r.event_id for r in records]
    assert len(ids) == len(set(ids))
    assert [r.event_id for r in records if r.invalid_reason is None] == []


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (encode([line("E1")], header=("event_id", "event_type", "occurred_at")), "return_id"),
        (b"", "the file is empty"),
    ],
    ids=["missing-return-id-column", "empty"],
)
def test_a_file_without_the_required_header_is_refused_as_a_whole(
    export: Path, data: bytes, why: str
) -> None:
    export.write_bytes(data)
    with pytest.raises(CsvFileError) as refused:
        list(read_export(export))
    assert refused.value.message.startswith("zigzag-export.csv: ")
    assert why in refused.value.message
    assert refused.value.code == "csv.unreadable"


# -- the wire payload -----------------------------------------------------------------------------


def event_json(**fields: Any) -> str:
    base: dict[str, Any] = {
        "id": "zz-evt-1",
        "type": "return.registered",
        "occurredAt": "2026-11-02T06:00:00Z",
        "retailerCode": "CASTORE",
        "orderNumber": "CAS010000001",
        "returnId": "ZZR-1",
        "channelOrderRef": "202-1234567-7654321",
        "lines": [{"lineId": "1", "sku": "CAS-123-BLK-M", "quantity": 2, "returnReasonId": 3}],
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def test_a_valid_payload_decodes_to_a_return_event() -> None:
    event = wire.decode("zigzag", "zz-evt-1", event_json())
    assert event.source == "zigzag"
    assert event.event_id == "zz-evt-1"
    assert event.type is EventType.REGISTERED
    assert event.occurred_at == datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    assert event.return_id == "ZZR-1"
    assert event.order_ref == "202-1234567-7654321"
    assert event.retailer_code == "CASTORE"
    assert event.case_key == "zz:ZZR-1"
    assert event.lines == (LineFact("1", sku="CAS-123-BLK-M", quantity=2, reason="3"),)


CHARGE = {"chargeId": "CHG-1", "type": "DAMAGED_ITEM_FEE", "amount": "3.20", "currency": "GBP"}


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        pytest.param("{", "not JSON", id="invalid-json"),
        pytest.param("[1, 2]", "not a JSON object", id="not-an-object"),
        pytest.param(event_json(returnId=None), "returnId: Field required", id="no-return-id"),
        pytest.param(
            event_json(type="charge.created", lines=[], charge={**CHARGE, "amount": 3.2}),
            "charge.amount",
            id="float-charge-amount",
        ),
        pytest.param(
            event_json(type="charge.created", lines=[], charge={**CHARGE, "amount": "3.205"}),
            "charge.amount",
            id="three-decimals",
        ),
        pytest.param(
            event_json(type="return.received", lines=[{"lineId": "1", "quantity": 1}]),
            "needs dcWarehouse",
            id="received-without-warehouse",
        ),
        pytest.param(
            event_json(
                lines=[
                    {"lineId": "1", "sku": "A", "quantity": 1},
                    {"lineId": "1", "sku": "B", "quantity": 1},
                ]
            ),
            "same lineId twice",
            id="duplicated-line-ids",
        ),
        pytest.param(
            event_json(lines=[{"lineId": "1", "quantity": 1}]),
            "line '1' of a return.registered event lacks sku",
            id="registered-without-sku",
        ),
        pytest.param(
            event_json(lines=[{"lineId": "1", "sku": "A", "quantity": "2"}]),
            "lines.0.quantity",
            id="quantity-as-text",
        ),
        pytest.param(event_json(occurredAt="2026-11-02T06:00:00"), "occurredAt", id="naive-time"),
        pytest.param(event_json(type="return.teleported"), "type", id="unknown-type"),
        pytest.param(event_json(id="zz-evt-2"), "differs from its key", id="id-mismatch"),
        pytest.param(" " * (wire.MAX_PAYLOAD + 1), "over the", id="too-large"),
    ],
)
def test_an_unreadable_payload_is_an_invalid_event_naming_the_field(payload: str, why: str) -> None:
    with pytest.raises(InvalidEvent) as refused:
        wire.decode("zigzag", "zz-evt-1", payload)
    assert why in refused.value.message
    assert refused.value.code == "event.invalid"
