"""The stock authority's rules alone: what a position sends or why it is held, and what the
warehouses file and the snapshot file refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.domain.errors import ExceptionCode, MasterDataError
from returnbridge.domain.stock import (
    PositionView,
    Snapshot,
    StockAuthority,
    StockGuards,
    WarehouseMap,
    decide,
)
from returnbridge.masterdata.stock_csv import StockFileError, read_stock_snapshot
from returnbridge.masterdata.warehouses_toml import parse_warehouses

NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
GUARDS = StockGuards()


def fresh(available: int) -> Snapshot:
    return Snapshot(available, NOW - timedelta(hours=13))


def test_a_position_sends_the_snapshot_plus_the_units_restocked_since() -> None:
    assert decide(PositionView(fresh(120), 3, None), GUARDS, NOW).quantity == 123


def test_no_snapshot_holds_the_position_and_sends_nothing() -> None:
    decision = decide(PositionView(None, 3, 40), GUARDS, NOW)
    assert (decision.quantity, decision.hold) == (None, ExceptionCode.STOCK_SNAPSHOT_MISSING)


def test_a_snapshot_older_than_the_limit_holds_the_position() -> None:
    old = Snapshot(120, NOW - timedelta(hours=26, seconds=1))
    decision = decide(PositionView(old, 3, None), GUARDS, NOW)
    assert decision.hold is ExceptionCode.STOCK_SNAPSHOT_STALE and "26.0 h" in decision.why
    just = Snapshot(120, NOW - timedelta(hours=26))
    assert decide(PositionView(just, 3, None), GUARDS, NOW).hold is None


@pytest.mark.parametrize(
    ("confirmed", "new", "held"),
    [
        (100, 49, True),  # more than half, and 51 units
        (100, 50, False),  # exactly half: not more than the share
        (18, 5, True),  # 13 units, over half
        (15, 6, False),  # 9 units: under the 10-unit floor, however large the share
        (10, 0, True),  # all of it, 10 units
    ],
)
def test_a_drop_is_held_only_past_both_the_share_and_the_units(
    confirmed: int, new: int, held: bool
) -> None:
    decision = decide(PositionView(fresh(new), 0, confirmed), GUARDS, NOW)
    assert (decision.hold is ExceptionCode.STOCK_DROP_HELD) is held
    assert decision.quantity == new
    released = decide(PositionView(fresh(new), 0, confirmed, released=True), GUARDS, NOW)
    assert released.hold is None and released.quantity == new


@given(
    available=st.integers(0, 10_000),
    restocked=st.integers(-50, 500),
    confirmed=st.none() | st.integers(0, 10_000),
)
def test_a_decision_never_sends_a_negative_quantity_nor_holds_a_rise(
    available: int, restocked: int, confirmed: int | None
) -> None:
    decision = decide(PositionView(fresh(available), restocked, confirmed), GUARDS, NOW)
    assert decision.quantity is not None and decision.quantity >= 0
    if confirmed is None or decision.quantity >= confirmed:
        assert decision.hold is None


def test_the_map_never_sends_a_dc_under_its_own_code_and_defaults_to_no_authority() -> None:
    warehouses = parse_warehouses(
        '[dcs.UK-DC1]\namazon_warehouse = "LHR"\n[warehouses.LHR]\n'
        '[dcs.DE-DC1]\namazon_warehouse = "FRA"\n[warehouses.FRA]\nstock_authority = "snapshot"\n'
    )
    assert warehouses.amazon_warehouse("XX-DC9") is None
    assert warehouses.authority("LHR") is StockAuthority.NONE  # declared, no authority: none
    assert warehouses.authority("FRA") is StockAuthority.SNAPSHOT
    assert warehouses.resolve("DE-DC1") == warehouses.resolve("FRA") == "FRA"
    assert WarehouseMap.from_dict(warehouses.to_dict()) == warehouses


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            '[dcs.UK-DC1]\namazon_warehouse = "LHR"\n',
            "warehouses.toml: entry 'dcs.UK-DC1', field 'amazon_warehouse': 'LHR' is not "
            "declared; add [warehouses.LHR]",
        ),
        (
            '[warehouses.LHR]\nstock_authority = "wms"\n',
            "entry 'warehouses.LHR', field 'stock_authority': must be 'snapshot' (returnbridge "
            "sends the stock",
        ),
        ("[stock]\nsnapshot_max_age_hours = 0\n", "field 'stock.snapshot_max_age_hours'"),
        ("[dcs\n", "not valid TOML"),
    ],
)
def test_a_bad_warehouses_file_is_refused_naming_the_entry_and_field(text: str, said: str) -> None:
    with pytest.raises(MasterDataError) as refused:
        parse_warehouses(text)
    assert said in refused.value.message


def test_a_snapshot_file_with_any_bad_cell_is_refused_whole_naming_each(tmp_path: Path) -> None:
    path = tmp_path / "snap.csv"
    path.write_text(
        "Warehouse,SKU,available,as_of\n"
        "LHR,A-1,5,2026-11-02T01:00:00Z\n"
        "LHR,A-2,-1,2026-11-02T01:00:00Z\n"
        "LHR,A-3,4,2026-11-02T01:00:00\n"
        "LHR,A-1,6,2026-11-02T01:00:00Z\n",
        encoding="utf-8",
    )
    with pytest.raises(StockFileError) as refused:
        read_stock_snapshot(path)
    said = refused.value.message
    assert "snap.csv row 3, field 'available': '-1' is not a whole number" in said
    assert "snap.csv row 4, field 'as_of'" in said  # no UTC offset: which 01:00?
    assert "snap.csv row 5, field 'sku': A-1 at LHR is listed twice (first on row 2)" in said
    path.write_text("warehouse,sku,available\n", encoding="utf-8")
    with pytest.raises(StockFileError, match="header lacks column"):
        read_stock_snapshot(path)
