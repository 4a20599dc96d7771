"""Resolving exceptions: re-map and reprocess, write off, ignore; who and when recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import CATALOG, charge, full_return, send, zz_event

from returnbridge.bootstrap import App
from returnbridge.domain.errors import ExceptionActionRefused
from returnbridge.services.exceptions import Action, Resolution, resolve
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import ExceptionRecord, InboxRecord
from returnbridge.services.reconcile import check
from returnbridge.store.readmodels import SqlLedgerAudit, summary
from returnbridge.testing.state import final_state


def _only_open(rb: App, code: str) -> ExceptionRecord:
    with rb.stores() as store:
        [record] = store.list_exceptions("open", code, 10)
    return record


def _resolve(rb: App, record: ExceptionRecord, action: Action, **kw: str) -> ExceptionRecord:
    request = Resolution(action=action, actor=kw.pop("actor", "sam.ops"), **kw)
    return resolve(rb.stores, record.id, request, rb.processor)


def _state(rb: App) -> dict:  # type: ignore[type-arg]
    with rb.engine.connect() as conn:
        assert check(SqlLedgerAudit(conn)) == []
        return final_state(conn)


def test_an_unknown_sku_remapped_by_a_person_flows_to_stock(rb: App) -> None:
    send(rb, *full_return("R1", "mystery-sku", "A", "RESTOCK"))
    record = _only_open(rb, "UNKNOWN_SKU")
    assert record.units_received == 1 and "mystery-sku" in record.message
    assert "mystery-sku" in record.raw

    closed = _resolve(rb, record, Action.REPROCESS, sku="5012345678900", note="label misprint")
    assert (closed.status, closed.resolved_by, closed.resolution) == (
        "resolved",
        "sam.ops",
        "reprocess",
    )
    assert [a["action"] for a in closed.actions] == ["reprocess"]
    assert closed.actions[0]["detail"] == {"sku": "5012345678900"}
    assert _state(rb)["stock"] == {"UK-DC1/CAS-123-BLK-M": 1}


def test_reprocessing_after_a_corrected_catalog_clears_the_exception(
    rb: App, tmp_path: Path
) -> None:
    send(rb, *full_return("R1", "CAS-999-NEW-M", "A", "RESTOCK"))
    record = _only_open(rb, "UNKNOWN_SKU")
    still_open = _resolve(rb, record, Action.REPROCESS)
    assert still_open.status == "open"  # nothing changed yet: the line still cannot flow

    catalog = tmp_path / "fixed.csv"
    catalog.write_text(CATALOG + "CAS-999-NEW-M,,,,true,false,9.99,GBP,New style\n")
    rb.load_catalog(catalog)
    closed = _resolve(rb, record, Action.REPROCESS, note="added to catalog")
    assert closed.status == "resolved"
    assert _state(rb)["stock"] == {"UK-DC1/CAS-999-NEW-M": 1}


def test_an_inactive_sku_written_off_posts_a_write_down_and_no_stock(rb: App) -> None:
    send(rb, *full_return("R1", "CAS-789-RED-S", "A", "RESTOCK"))
    record = _only_open(rb, "INACTIVE_SKU")
    closed = _resolve(rb, record, Action.WRITE_OFF, actor="fin.lee", note="discontinued")
    assert (closed.status, closed.resolved_by) == ("resolved", "fin.lee")
    state = _state(rb)
    assert state["stock"] == {}
    assert state["accounts"] == {
        "5410-RETURNS-WRITE-DOWN/GBP": 1200,
        "1390-RETURNS-IN-TRANSIT/GBP": -1200,
    }
    assert state["lines"]["zz:R1/1"]["units_written_off"] == 1


def test_an_inactive_sku_booked_to_a_disposition_flows_there_and_never_to_stock(
    rb: App,
) -> None:
    send(rb, *full_return("R1", "CAS-789-RED-S", "A", "RESTOCK"))
    record = _only_open(rb, "INACTIVE_SKU")
    # Restocking an inactive product is not a way out: the line stays held.
    still = _resolve(rb, record, Action.REPROCESS, disposition="RESTOCK", note="try")
    assert still.status == "open"
    closed = _resolve(rb, record, Action.REPROCESS, disposition="LIQUIDATE", note="to jobber")
    assert closed.status == "resolved"
    state = _state(rb)
    assert state["stock"] == {}
    assert state["lines"]["zz:R1/1"]["units_liquidated"] == 1
    assert state["accounts"] == {
        "1330-INVENTORY-LIQUIDATION/GBP": 1200,
        "1390-RETURNS-IN-TRANSIT/GBP": -1200,
    }


def test_an_unmapped_reason_ignored_with_a_note_lets_the_line_flow(rb: App) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", reason=42))
    record = _only_open(rb, "UNMAPPED_REASON")
    with pytest.raises(ExceptionActionRefused, match="reason"):
        _resolve(rb, record, Action.IGNORE)
    closed = _resolve(rb, record, Action.IGNORE, note="legacy reason, Amazon not told")
    assert (closed.status, closed.resolution) == ("ignored", "ignore")
    assert _state(rb)["stock"] == {"UK-DC1/CAS-123-BLK-M": 1}


def test_an_unknown_sku_holding_units_cannot_be_ignored(rb: App) -> None:
    send(rb, *full_return("R1", "mystery-sku", "A", "RESTOCK"))
    record = _only_open(rb, "UNKNOWN_SKU")
    with pytest.raises(ExceptionActionRefused, match="cannot be ignored"):
        _resolve(rb, record, Action.IGNORE, note="whatever")
    assert _only_open(rb, "UNKNOWN_SKU").id == record.id


def test_a_quantity_mismatch_ignored_accepts_what_the_warehouse_received(rb: App) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=1, received=2))
    record = _only_open(rb, "QUANTITY_MISMATCH")
    _resolve(rb, record, Action.IGNORE, note="customer sent two")
    assert _state(rb)["stock"] == {"UK-DC1/CAS-123-BLK-M": 2}


def test_an_invalid_event_can_be_ignored_but_not_written_off(rb: App) -> None:
    send(rb, zz_event("BAD", "return.received", "R1", 1, lines=[{"lineId": "1"}]))
    record = _only_open(rb, "INVALID_EVENT")
    with pytest.raises(ExceptionActionRefused, match="not a return line"):
        _resolve(rb, record, Action.WRITE_OFF)
    closed = _resolve(rb, record, Action.IGNORE, note="test message from ZigZag")
    assert closed.status == "ignored"
    with pytest.raises(ExceptionActionRefused, match="ignored already"):
        _resolve(rb, closed, Action.IGNORE, note="again")


def test_resolutions_are_replayable_decisions_not_edits(rb: App) -> None:
    send(rb, *full_return("R1", "mystery-sku", "A", "RESTOCK"))
    _resolve(rb, _only_open(rb, "UNKNOWN_SKU"), Action.REPROCESS, sku="CAS-456-WHT-L")
    before = _state(rb)
    send(rb, *full_return("R1", "mystery-sku", "A", "RESTOCK"))  # ZigZag re-sends everything
    assert _state(rb) == before
    with rb.engine.connect() as conn:
        assert summary(conn)["exceptions"] == {}


def test_an_unknown_product_is_written_off_only_with_the_product_that_values_it(rb: App) -> None:
    send(rb, *full_return("R1", "mystery-sku", "A", "RESTOCK"))
    record = _only_open(rb, "UNKNOWN_SKU")
    with pytest.raises(ExceptionActionRefused, match="no cost to write down"):
        _resolve(rb, record, Action.WRITE_OFF, note="lost label")
    _resolve(rb, record, Action.WRITE_OFF, sku="CAS-456-WHT-L", note="lost label")
    state = _state(rb)
    assert state["stock"] == {}
    assert state["accounts"] == {
        "5410-RETURNS-WRITE-DOWN/GBP": 3550,
        "1390-RETURNS-IN-TRANSIT/GBP": -3550,
    }


def test_an_unmapped_charge_cannot_be_remapped_only_mapped_or_ignored(rb: App) -> None:
    send(rb, charge("R1", 5, charge_type="LATE_FEE"))
    record = _only_open(rb, "UNMAPPED_CHARGE")
    with pytest.raises(ExceptionActionRefused, match="add its charge type"):
        _resolve(rb, record, Action.REPROCESS, disposition="DESTROY")
    closed = _resolve(rb, record, Action.IGNORE, note="fee waived by ZigZag")
    assert closed.status == "ignored"
    assert _state(rb)["accounts"] == {}


def test_an_unreadable_csv_row_cannot_be_reprocessed_only_replaced(rb: App) -> None:
    with rb.stores() as store:
        ingest(
            store,
            [
                InboxRecord(
                    "zigzag",
                    "row#unreadable-1",
                    "unreadable",
                    "a,b,c",
                    invalid_reason="export.csv row 7: has 3 cells",
                )
            ],
            rb.clock(),
        )
    record = _only_open(rb, "INVALID_EVENT")
    with pytest.raises(ExceptionActionRefused, match="import the corrected file"):
        _resolve(rb, record, Action.REPROCESS)
    assert _only_open(rb, "INVALID_EVENT").id == record.id
