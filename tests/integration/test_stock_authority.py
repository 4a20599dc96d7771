"""What Amazon is told about stock: the stock authority's snapshot plus the restocks since,
never the returns alone, and never under a ZigZag DC code."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest
from pipeline_support import Clock, full_return, send
from sqlalchemy import select
from stock_support import WAREHOUSES, expected_stock, load_map, opening, take_snapshot

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.spapi import SpApiVendor
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.server import RunningSandbox
from returnbridge.services.cycles import ClearingCycle, CycleReport
from returnbridge.services.exceptions import Action, Resolution, resolve
from returnbridge.store.cycles import SqlCycleStore, cycle_transaction
from returnbridge.store.tables import audit_log, exceptions, outbox

SKU = "CAS-123-BLK-M"
UK = ("AMZ-UK1", SKU)


def close_cycle(rb: App, vendor: SpApiVendor) -> CycleReport:
    def stores() -> AbstractContextManager[SqlCycleStore]:
        return cycle_transaction(rb.engine)

    return ClearingCycle(stores, vendor, rb.clock).close()


def at(hour: float, day: int = 2) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC) + timedelta(hours=hour)


def restocked(rb: App, return_id: str, graded: datetime, qty: int = 1, dc: str = "UK-DC1") -> None:
    """A return whose units the warehouse graded A (back to stock) at ``graded``."""
    events = full_return(return_id, SKU, "A", "RESTOCK", qty=qty)
    shift = graded - datetime.fromisoformat(events[-1]["occurredAt"])
    for event in events:
        event["occurredAt"] = (datetime.fromisoformat(event["occurredAt"]) + shift).isoformat()
        event["dcWarehouse"] = dc
    send(rb, *events)


def set_clock(rb: App, when: datetime) -> None:
    clock = rb.clock
    assert isinstance(clock, Clock)
    clock.now = when


def open_codes(rb: App) -> list[tuple[str, str | None]]:
    with rb.engine.connect() as conn:
        rows = conn.execute(
            select(exceptions.c.code, exceptions.c.subject)
            .where(exceptions.c.status == "open")
            .order_by(exceptions.c.id)
        )
        return [(r.code, r.subject) for r in rows]


def inventory_statuses(rb: App) -> list[str]:
    with rb.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.status).where(outbox.c.topic == "amazon.inventory"))
        return sorted(r.status for r in rows)


def test_without_a_warehouse_map_nothing_is_sent_and_each_dc_opens_unmapped_warehouse(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    amazon.sandbox.stock[("UK-DC1", SKU)] = 40  # whatever Amazon held stays as it was
    restocked(rb, "R1", at(10))
    restocked(rb, "R2", at(11))
    restocked(rb, "R3", at(11), dc="DE-DC1")
    report = close_cycle(rb, vendor)
    assert amazon.sandbox.counters["submitInventoryUpdate"].accepted == 0
    assert dict(amazon.sandbox.stock) == {("UK-DC1", SKU): 40}
    assert report.stock is not None and sorted(report.stock.unmapped_dcs) == ["DE-DC1", "UK-DC1"]
    assert open_codes(rb) == [
        ("UNMAPPED_WAREHOUSE", "dc:DE-DC1"),
        ("UNMAPPED_WAREHOUSE", "dc:UK-DC1"),
    ]
    assert inventory_statuses(rb) == ["pending"] * 3  # the changes wait for the map
    close_cycle(rb, vendor)
    assert len(open_codes(rb)) == 2  # one per DC, however many cycles find it

    opening(rb, available=5)
    close_cycle(rb, vendor)
    assert open_codes(rb) == []  # the map is there: both closed by themselves
    assert dict(amazon.sandbox.stock) == {
        ("UK-DC1", SKU): 40,  # never touched: returnbridge sends nothing under a DC code
        ("AMZ-UK1", SKU): 7,
        ("AMZ-UK1", "CAS-456-WHT-L"): 5,
        ("AMZ-DE1", SKU): 6,
    }


def test_a_warehouse_with_no_snapshot_holds_its_positions_with_one_exception(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    load_map(rb)
    restocked(rb, "R1", at(10))
    restocked(rb, "R2", at(10), dc="DE-DC1")
    close_cycle(rb, vendor)
    assert amazon.sandbox.counters["submitInventoryUpdate"].accepted == 0
    assert open_codes(rb) == [
        ("STOCK_SNAPSHOT_MISSING", "warehouse:AMZ-DE1"),
        ("STOCK_SNAPSHOT_MISSING", "warehouse:AMZ-UK1"),
    ]
    take_snapshot(rb, {UK: 30, ("AMZ-DE1", SKU): 8})
    close_cycle(rb, vendor)
    assert dict(amazon.sandbox.stock) == {UK: 31, ("AMZ-DE1", SKU): 9}
    assert open_codes(rb) == []


def test_the_worked_example_snapshot_plus_restocks_then_the_next_snapshot_alone(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    """docs/operations.md#what-amazon-sees-for-a-sku, figure for figure."""
    load_map(rb)
    take_snapshot(rb, {UK: 120}, as_of=at(1))
    restocked(rb, "R1", at(9), qty=3)
    set_clock(rb, at(14))
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 123
    take_snapshot(rb, {UK: 118}, as_of=at(1, day=3))  # sales, and the 3 booked in the WMS
    set_clock(rb, at(2, day=3))
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 118


def test_restocks_on_both_sides_of_as_of_are_counted_once_however_late_they_arrive(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    """The restock time compared with as_of is ZigZag's business time (when the warehouse graded
    the unit), not when returnbridge recorded it. The WMS books the put-away it sees itself, so a
    unit graded at 10:00 is in a snapshot as of 12:00 even when ZigZag's event reaches
    returnbridge only at 15:00: counting it again would double it."""
    load_map(rb)
    take_snapshot(rb, {UK: 50}, as_of=at(12))  # includes the 10:00 restock, which the WMS saw
    set_clock(rb, at(15))
    restocked(rb, "EARLY", at(10))  # recorded at 15:00, graded before as_of: in the snapshot
    restocked(rb, "LATE", at(13), qty=2)  # graded after as_of: not in it
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 52 == expected_stock(rb)[UK]

    # The WMS books returns late: at 12:15 it has booked everything up to 10:30 only, so it
    # states as_of 10:30 (the contract: as_of is the time its bookings are complete through).
    # A unit graded at 11:00 is then after as_of and is added: not lost.
    restocked(rb, "BOOKED-LATE", at(11))
    take_snapshot(rb, {UK: 53}, as_of=at(12, day=2) + timedelta(minutes=1))  # newer: replaces
    take_snapshot(rb, {UK: 1}, as_of=at(10.5))  # an older file arriving late changes nothing
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 55  # 53 + the 13:00 pair (11:00 is in the 12:01 one)

    # The night's snapshot has booked all of them: it alone is sent, nothing counted twice.
    take_snapshot(rb, {UK: 54}, as_of=at(1, day=3))
    set_clock(rb, at(2, day=3))
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 54 == expected_stock(rb)[UK]


def test_a_unit_graded_before_a_late_booking_snapshot_is_added_not_lost(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    load_map(rb)
    restocked(rb, "R1", at(11))
    take_snapshot(rb, {UK: 20}, as_of=at(10.5))  # the WMS's bookings reach 10:30 only
    set_clock(rb, at(12.5))
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 21
    take_snapshot(rb, {UK: 21}, as_of=at(1, day=3))  # booked since: the WMS has it now
    set_clock(rb, at(2, day=3))
    report = close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 21 and report.prepared == 0  # unchanged: no call


def test_a_stale_snapshot_holds_its_positions_until_a_fresh_one_arrives(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    load_map(rb)
    take_snapshot(rb, {UK: 10}, as_of=at(1))
    restocked(rb, "R1", at(9))
    set_clock(rb, at(1) + timedelta(hours=27))
    close_cycle(rb, vendor)
    assert UK not in amazon.sandbox.stock
    assert open_codes(rb) == [("STOCK_SNAPSHOT_STALE", "warehouse:AMZ-UK1")]
    with rb.engine.connect() as conn:
        message = conn.execute(select(exceptions.c.message)).scalar_one()
    assert "26.0 h" in message and "import stock" in message
    take_snapshot(rb, {UK: 11}, as_of=at(1, day=3))
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 11  # the 09:00 unit is in the night's snapshot
    assert open_codes(rb) == []


def test_a_drop_beyond_the_guard_is_held_until_a_person_releases_it(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    load_map(rb)
    take_snapshot(rb, {UK: 100}, as_of=at(1))
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 100
    take_snapshot(rb, {UK: 93}, as_of=at(2))  # 7 down: within the guard
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 93
    take_snapshot(rb, {UK: 20}, as_of=at(3))  # 73 down, more than half: held
    close_cycle(rb, vendor)
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 93
    assert open_codes(rb) == [("STOCK_DROP_HELD", "position:AMZ-UK1/CAS-123-BLK-M")]
    with rb.stores() as store:
        held = store.list_exceptions("open", "STOCK_DROP_HELD", 1)[0]
    with pytest.raises(Exception, match="release it"):
        resolve(rb.stores, held.id, Resolution(Action.REPROCESS, "ops"), rb.processor)
    closed = resolve(
        rb.stores, held.id, Resolution(Action.RELEASE, "ops", note="stock count"), rb.processor
    )
    assert (closed.status, closed.resolution) == ("resolved", "release")
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 20
    assert open_codes(rb) == []
    with rb.engine.connect() as conn:
        logged = conn.execute(
            select(audit_log.c.actor, audit_log.c.action).where(
                audit_log.c.target == f"exception:{held.id}"
            )
        ).all()
    assert [(r.actor, r.action) for r in logged] == [("ops", "exception.resolve")]
    # The release was for that drop: a later one is held again.
    take_snapshot(rb, {UK: 2}, as_of=at(4))
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 20


def test_a_warehouse_whose_authority_is_none_is_never_sent_and_its_restocks_are_withheld(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    load_map(rb, WAREHOUSES.replace('stock_authority = "snapshot"', 'stock_authority = "none"'))
    restocked(rb, "R1", at(9))
    report = close_cycle(rb, vendor)
    assert amazon.sandbox.counters["submitInventoryUpdate"].accepted == 0
    assert report.stock is not None and report.stock.withheld == 1
    assert inventory_statuses(rb) == ["withheld"]
    assert open_codes(rb) == []


def test_a_snapshot_alone_updates_amazon_though_no_return_moved_the_position(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    opening(rb, available=12)
    report = close_cycle(rb, vendor)
    assert report.stock is not None and report.stock.positions == 3
    assert dict(amazon.sandbox.stock) == expected_stock(rb) == {
        ("AMZ-UK1", SKU): 12, ("AMZ-UK1", "CAS-456-WHT-L"): 12, ("AMZ-DE1", SKU): 12,
    }  # fmt: skip
    assert close_cycle(rb, vendor).prepared == 0  # Amazon holds it: nothing to send


def test_a_position_amazon_rejects_waits_for_a_person_instead_of_being_resent(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    amazon.sandbox.reset(SandboxConfig(seed=2, known_items=frozenset({"CAS-456-WHT-L"})))
    opening(rb, available=4)
    first = close_cycle(rb, vendor)
    assert first.rejected_items == 2  # CAS-123-BLK-M at both warehouses
    second = close_cycle(rb, vendor)  # the good item of the failed transaction goes again
    assert second.stock is not None and second.stock.sends == {
        "AMZ-UK1": [("CAS-456-WHT-L", 4, [])]
    }
    assert close_cycle(rb, vendor).prepared == 0  # the refused positions wait
    assert sorted(open_codes(rb)) == [
        ("AMAZON_REJECTED", "position:AMZ-DE1/CAS-123-BLK-M"),
        ("AMAZON_REJECTED", "position:AMZ-UK1/CAS-123-BLK-M"),
    ]
    amazon.sandbox.reset(SandboxConfig(seed=2))  # the item is set up in Vendor Central
    with rb.stores() as store:
        rejected = store.list_exceptions("open", "AMAZON_REJECTED", 10)
    for record in rejected:
        resolve(rb.stores, record.id, Resolution(Action.REPROCESS, "ops"), rb.processor)
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 4


def test_a_release_lets_go_the_figure_the_person_checked_not_a_later_one(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    load_map(rb)
    take_snapshot(rb, {UK: 100}, as_of=at(1))
    close_cycle(rb, vendor)
    take_snapshot(rb, {UK: 30}, as_of=at(2))
    close_cycle(rb, vendor)
    with rb.stores() as store:
        held = store.list_exceptions("open", "STOCK_DROP_HELD", 1)[0]
    resolve(rb.stores, held.id, Resolution(Action.RELEASE, "ops"), rb.processor)
    take_snapshot(rb, {UK: 3}, as_of=at(3))  # lower still, after the person looked at 30
    close_cycle(rb, vendor)
    assert amazon.sandbox.stock[UK] == 100
    assert open_codes(rb) == [("STOCK_DROP_HELD", "position:AMZ-UK1/CAS-123-BLK-M")]
    with rb.engine.connect() as conn:
        raw = conn.execute(
            select(exceptions.c.raw).where(exceptions.c.status == "open")
        ).scalar_one()
    assert '"quantity": 3' in raw
