"""Helpers for the stock authority: a warehouse map whose Amazon ids differ from ZigZag's DC
codes, snapshots, and what Amazon should hold worked out from the tables by a path of its own."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from pipeline_support import T0
from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.domain.stock import WarehouseMap
from returnbridge.masterdata.warehouses_toml import parse_warehouses
from returnbridge.store.stock import SqlStockStore
from returnbridge.store.tables import stock_movements, stock_snapshots

WAREHOUSES = """
[dcs.UK-DC1]
amazon_warehouse = "AMZ-UK1"

[dcs.DE-DC1]
amazon_warehouse = "AMZ-DE1"

[warehouses.AMZ-UK1]
stock_authority = "snapshot"

[warehouses.AMZ-DE1]
stock_authority = "snapshot"
"""
DC = {"UK-DC1": "AMZ-UK1", "DE-DC1": "AMZ-DE1"}
OPENING = T0 - timedelta(hours=8)  # the night's snapshot, before the day's restocks


def load_map(rb: App, text: str = WAREHOUSES) -> WarehouseMap:
    warehouses = parse_warehouses(text)
    with rb.stores() as store:
        SqlStockStore(store.conn).save_warehouse_map(warehouses, "warehouses.toml", rb.clock())
    return warehouses


def take_snapshot(rb: App, rows: dict[tuple[str, str], int], as_of: datetime = OPENING) -> None:
    with rb.stores() as store:
        SqlStockStore(store.conn).import_snapshot(
            [(w, sku, n, as_of) for (w, sku), n in rows.items()], "snapshot.csv", rb.clock()
        )


DAY_POSITIONS = (
    ("AMZ-UK1", "CAS-123-BLK-M"),
    ("AMZ-UK1", "CAS-456-WHT-L"),
    ("AMZ-DE1", "CAS-123-BLK-M"),
)


def opening(
    rb: App,
    available: int = 0,
    as_of: datetime = OPENING,
    positions: tuple[tuple[str, str], ...] = DAY_POSITIONS,
) -> None:
    """The map, and a snapshot of ``available`` for each of ``positions``."""
    load_map(rb)
    take_snapshot(rb, dict.fromkeys(positions, available), as_of)


def expected_stock(rb: App) -> dict[tuple[str, str], int]:
    """Snapshot + net units restocked (by business time) after its as_of, per position."""
    with rb.engine.connect() as conn:
        snaps = {
            (r.warehouse, r.sku): (r.available, r.as_of.replace(tzinfo=UTC))
            for r in conn.execute(select(stock_snapshots))
        }
        found = {key: available for key, (available, _) in snaps.items()}
        extra: dict[tuple[str, str], int] = defaultdict(int)
        for r in conn.execute(select(stock_movements)):
            key = (DC.get(r.warehouse, r.warehouse), r.sku)
            if key in snaps and r.occurred_at.replace(tzinfo=UTC) > snaps[key][1]:
                extra[key] += r.quantity
    return {key: found[key] + extra.get(key, 0) for key in found}
