"""The pipeline end to end on a real database: SQLite and PostgreSQL alike."""

from __future__ import annotations

import json

from pipeline_support import CATALOG, charge, full_return, refund_at_first_scan, send, zz_event
from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.services.reconcile import check
from returnbridge.store.readmodels import SqlLedgerAudit, summary
from returnbridge.store.tables import journal_lines, outbox, stock_movements
from returnbridge.testing.state import final_state


def _state(rb: App) -> dict:  # type: ignore[type-arg]
    with rb.engine.connect() as conn:
        return final_state(conn)


def _figures(rb: App) -> dict:  # type: ignore[type-arg]
    with rb.engine.connect() as conn:
        return summary(conn)


def test_an_a_grade_return_becomes_sellable_stock_and_a_balanced_journal(rb: App) -> None:
    send(rb, *full_return("R1", "cas123blkm", "A", "RESTOCK", qty=2))
    state = _state(rb)
    line = state["lines"]["zz:R1/1"]
    assert (line["status"], line["sku"], line["units_restocked"]) == ("closed", "CAS-123-BLK-M", 2)
    assert state["stock"] == {"UK-DC1/CAS-123-BLK-M": 2}
    assert state["accounts"] == {
        "1310-INVENTORY-SELLABLE/GBP": 4000,
        "1390-RETURNS-IN-TRANSIT/GBP": -4000,
    }
    assert state["cases"]["zz:R1"] == ("closed", False)
    # The brand owes Amazon a returns credit for the two units, at the catalog unit cost.
    assert state["credits"] == {"zz:R1/1/CAS-123-BLK-M@2000GBP": 2}
    with rb.engine.connect() as conn:
        messages = {r.topic: json.loads(r.payload) for r in conn.execute(select(outbox))}
    assert sorted(messages) == [
        "amazon.credit_note",
        "amazon.inventory",
        "erp.journal",
        "erp.stock",
    ]
    # The restock reaches the ERP as a stock adjustment, at the time the warehouse graded it.
    assert messages["erp.stock"] == messages["amazon.inventory"]
    assert messages["erp.stock"]["occurred_at"] == "2026-11-02T20:40:00+00:00"  # graded A
    credit = messages["amazon.credit_note"]
    assert (credit["sku"], credit["quantity"], credit["unit_amount"], credit["currency"]) == (
        "CAS-123-BLK-M",
        2,
        2000,
        "GBP",
    )
    assert credit["returns_reference"] == "R1"


def test_a_line_corrected_after_its_credit_owes_amazon_only_the_difference(rb: App) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=3, received=2))
    recount = [{"lineId": "1", "sku": "CAS-123-BLK-M", "quantity": 3}]
    send(rb, zz_event("R1-recount", "return.received", "R1", 800, lines=recount))
    with rb.engine.connect() as conn:
        deltas = [
            json.loads(r.payload)["quantity"]
            for r in conn.execute(
                select(outbox.c.payload).where(outbox.c.topic == "amazon.credit_note")
            )
        ]
    assert deltas == [2, 1]
    assert _state(rb)["credits"] == {"zz:R1/1/CAS-123-BLK-M@2000GBP": 3}


def test_lines_that_are_not_closed_owe_amazon_no_credit(rb: App) -> None:
    send(rb, *full_return("R1", "NOPE-999", "A", "RESTOCK"))  # unknown SKU: an exception
    send(rb, *full_return("R2", "CAS-123-BLK-M", "A", "RESTOCK")[:4])  # graded, not disposed
    assert _state(rb)["credits"] == {}


def test_grades_other_than_a_never_create_stock(rb: App) -> None:
    for rid, grade, disposition in (
        ("R1", "B", "REFURBISH"),
        ("R2", "C", "LIQUIDATE"),
        ("R3", "D", "DESTROY"),
        ("R4", "F", "RTV"),
    ):
        send(rb, *full_return(rid, "CAS-456-WHT-L", grade, disposition))
    units = _figures(rb)["units"]
    assert _state(rb)["stock"] == {}
    assert (
        units["refurbished"],
        units["liquidated"],
        units["written_off"],
        units["returned_to_vendor"],
        units["restocked"],
    ) == (1, 1, 1, 1, 0)


def test_a_non_product_charge_is_journalled_and_never_moves_stock(rb: App) -> None:
    send(rb, charge("R9", 5))
    state = _state(rb)
    assert state["stock"] == {}
    assert state["accounts"] == {
        "6120-RETURN-HANDLING-FEES/GBP": 450,
        "2110-ZIGZAG-PAYABLE/GBP": -450,
    }
    assert _figures(rb)["units"]["received"] == 0


def test_a_regrade_reverses_the_first_posting_instead_of_editing_it(rb: App) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"))
    send(
        rb,
        zz_event(
            "R1-regrade",
            "return.disposition_set",
            "R1",
            900,
            lines=[{"lineId": "1", "grade": "D", "disposition": "DESTROY"}],
        ),
    )
    state = _state(rb)
    assert state["stock"] == {}
    assert state["accounts"] == {
        "5410-RETURNS-WRITE-DOWN/GBP": 2000,
        "1390-RETURNS-IN-TRANSIT/GBP": -2000,
    }
    with rb.engine.connect() as conn:
        movements = [r.quantity for r in conn.execute(select(stock_movements.c.quantity))]
        postings = conn.execute(select(journal_lines)).all()
    assert movements == [1, -1]
    assert len(postings) == 6  # entry, its reversal, the new entry: two lines each
    assert _figures(rb)["journals"]["by_kind"] == {"disposition": 2, "reversal": 1}


def test_a_replayed_stream_changes_no_total(rb: App) -> None:
    events = full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK")
    send(rb, *events)
    before = _state(rb)
    for event in events:
        event["id"] = event["id"]  # same ids: a replay
    send(rb, *events)
    send(rb, *reversed(events))
    assert _state(rb) == before
    assert _figures(rb)["events_duplicate"] == 10


def test_unreadable_payloads_become_invalid_event_exceptions_and_the_rest_flows(rb: App) -> None:
    good = full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK")
    bad = zz_event(
        "BAD-1",
        "return.received",
        "R2",
        1,
        lines=[{"lineId": "1", "sku": "CAS-123-BLK-M", "quantity": -2}],
    )
    send(rb, good[0], bad, *good[1:])
    figures = _figures(rb)
    assert figures["exceptions"] == {"INVALID_EVENT": 1}
    assert figures["units"]["restocked"] == 1
    with rb.stores() as store:
        [record] = store.list_exceptions("open", "INVALID_EVENT", 10)
    assert "quantity" in record.message and "BAD-1" in record.message
    assert json.loads(record.raw)["id"] == "BAD-1"


def test_a_refund_at_first_scan_opens_a_provisional_case_that_zigzag_adopts(rb: App) -> None:
    refund = refund_at_first_scan("order-of-R1")
    send(rb, refund, source="amazon")
    assert _state(rb)["cases"] == {"order:order-of-R1": ("provisional", True)}
    assert _state(rb)["stock"] == {}
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"))
    state = _state(rb)
    assert state["cases"] == {"zz:R1": ("closed", False)}
    assert state["stock"] == {"UK-DC1/CAS-123-BLK-M": 1}


def test_the_invariants_hold_after_a_mixed_day(rb: App) -> None:
    send(
        rb,
        *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"),
        *full_return("R2", "nope-000", "A", "RESTOCK"),
        *full_return("R3", "CAS-789-RED-S", "A", "RESTOCK"),
        *full_return("R4", "CAS-456-WHT-L", "B", "REFURBISH", reason=42),
        *full_return("R5", "CAS-456-WHT-L", "A", "DONATE"),
        *full_return("R6", "CAS-456-WHT-L", "A", "RESTOCK", qty=1, received=3),
    )
    figures = _figures(rb)
    assert figures["exceptions"] == {
        "INACTIVE_SKU": 1,
        "QUANTITY_MISMATCH": 1,
        "UNKNOWN_SKU": 1,
        "UNMAPPED_DISPOSITION": 1,
        "UNMAPPED_REASON": 1,
    }
    assert figures["units"]["in_exception"] == 1 + 1 + 1 + 1 + 3
    with rb.engine.connect() as conn:
        assert check(SqlLedgerAudit(conn)) == []


def test_a_line_rescanned_as_another_sku_moves_its_stock_to_that_sku(rb: App) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"))
    send(
        rb,
        zz_event(
            "R1-rescan",
            "return.received",
            "R1",
            800,
            lines=[{"lineId": "1", "sku": "CAS-456-WHT-L", "quantity": 1}],
        ),
    )
    state = _state(rb)
    assert state["stock"] == {"UK-DC1/CAS-456-WHT-L": 1}
    assert state["accounts"] == {
        "1310-INVENTORY-SELLABLE/GBP": 3550,
        "1390-RETURNS-IN-TRANSIT/GBP": -3550,
    }
    with rb.engine.connect() as conn:
        assert check(SqlLedgerAudit(conn)) == []


def test_a_refund_joins_the_return_even_when_its_order_reference_comes_late(rb: App) -> None:
    first, *rest = full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK")
    first.pop("channelOrderRef")  # ZigZag registered the return before it knew the order
    send(rb, first)
    refund = refund_at_first_scan("order-of-R1")
    send(rb, refund, source="amazon")
    assert set(_state(rb)["cases"]) == {"zz:R1", "order:order-of-R1"}
    send(rb, *rest)
    assert _state(rb)["cases"] == {"zz:R1": ("closed", False)}
    with rb.engine.connect() as conn:
        assert check(SqlLedgerAudit(conn)) == []


def test_a_new_catalog_does_not_restate_a_closed_return_when_a_late_event_arrives(
    rb: App, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"))
    before = _state(rb)
    repriced = tmp_path / "repriced.csv"
    repriced.write_text(
        CATALOG.replace(
            "CAS-123-BLK-M,B0CAS12345,5012345678900,OLD-123,true,false,20.00",
            "CAS-123-BLK-M,B0CAS12345,5012345678900,OLD-123,false,false,99.00",
        )
    )
    assert "OLD-123,false,false,99.00" in repriced.read_text()
    rb.load_catalog(repriced)  # the product is now inactive and costs more
    send(rb, charge("R1", 900, amount="2.00"))
    after = _state(rb)
    assert after["stock"] == before["stock"] == {"UK-DC1/CAS-123-BLK-M": 1}
    assert after["lines"]["zz:R1/1"] == before["lines"]["zz:R1/1"]
    assert after["open_exceptions"] == []
    assert after["accounts"]["1310-INVENTORY-SELLABLE/GBP"] == 2000
