"""What Amazon may be told about stock: the warehouse map, the stock authority, and the guards.

``submitInventoryUpdate`` states the *absolute* quantity a vendor can ship from a warehouse.
returnbridge knows only the returns, so it never sends a quantity on that knowledge alone: each
Amazon warehouse has a **stock authority**:

- ``snapshot``: the brand's WMS/ERP owns on-hand stock and sends snapshots of it; returnbridge
  sends ``snapshot.available`` plus the units restocked after ``snapshot.as_of`` (compared on
  ZigZag's business time: when the unit was graded back to stock in the warehouse), and the
  brand's own feed to Amazon for that warehouse must be off;
- ``none`` (the default, also for a warehouse not configured): returnbridge sends nothing for it;
  the brand's own feed informs Amazon, and the restocks reach the ERP as stock adjustments.

Missing or stale knowledge holds a position, and so does a drop far below what Amazon last
confirmed, until a person releases it. Pure: the caller passes the time and the figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from returnbridge.domain.errors import ExceptionCode


class StockAuthority(StrEnum):
    """Who tells Amazon a warehouse's stock."""

    SNAPSHOT = "snapshot"  # returnbridge: the WMS/ERP snapshot plus the restocks since
    NONE = "none"  # the brand's own feed; returnbridge sends nothing


@dataclass(frozen=True)
class StockGuards:
    """When a position is held instead of sent."""

    max_snapshot_age: timedelta = timedelta(hours=26)
    drop_share: float = 0.5  # a fall by more than this share of the last confirmed quantity ...
    drop_min_units: int = 10  # ... and by at least this many units is held for a person


@dataclass(frozen=True)
class AmazonWarehouse:
    """One warehouse as Amazon knows it (its Vendor Central warehouse id)."""

    id: str
    authority: StockAuthority = StockAuthority.NONE


@dataclass(frozen=True)
class WarehouseMap:
    """Each ZigZag DC to the Amazon warehouse its restocks belong to, and each Amazon warehouse's
    stock authority. A DC that is not mapped is never sent under its own code."""

    dcs: Mapping[str, str] = field(default_factory=dict)  # ZigZag DC -> Amazon warehouse id
    warehouses: Mapping[str, AmazonWarehouse] = field(default_factory=dict)
    guards: StockGuards = StockGuards()

    def amazon_warehouse(self, dc: str) -> AmazonWarehouse | None:
        warehouse_id = self.dcs.get(dc)
        if warehouse_id is None:
            return None
        return self.warehouses.get(warehouse_id, AmazonWarehouse(warehouse_id))

    def dcs_of(self, warehouse_id: str) -> tuple[str, ...]:
        return tuple(sorted(dc for dc, w in self.dcs.items() if w == warehouse_id))

    def authority(self, warehouse_id: str) -> StockAuthority:
        found = self.warehouses.get(warehouse_id)
        return found.authority if found is not None else StockAuthority.NONE

    def resolve(self, code: str) -> str | None:
        """The Amazon warehouse id a file names, by that id or by a mapped DC code."""
        if code in self.warehouses:
            return code
        return self.dcs.get(code)

    def to_dict(self) -> dict[str, Any]:
        g = self.guards
        return {
            "dcs": dict(sorted(self.dcs.items())),
            "warehouses": {
                w.id: {"stock_authority": w.authority.value}
                for w in sorted(self.warehouses.values(), key=lambda w: w.id)
            },
            "stock": {
                "snapshot_max_age_hours": g.max_snapshot_age.total_seconds() / 3600,
                "drop_guard_share": g.drop_share,
                "drop_guard_min_units": g.drop_min_units,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WarehouseMap:
        stock = data.get("stock", {})
        return cls(
            dcs=dict(data.get("dcs", {})),
            warehouses={
                wid: AmazonWarehouse(wid, StockAuthority(w["stock_authority"]))
                for wid, w in data.get("warehouses", {}).items()
            },
            guards=StockGuards(
                max_snapshot_age=timedelta(hours=float(stock.get("snapshot_max_age_hours", 26))),
                drop_share=float(stock.get("drop_guard_share", 0.5)),
                drop_min_units=int(stock.get("drop_guard_min_units", 10)),
            ),
        )


@dataclass(frozen=True)
class Snapshot:
    """What the stock authority said a position held, at ``as_of`` (its business time)."""

    available: int
    as_of: datetime


@dataclass(frozen=True)
class PositionView:
    """Everything known about one (Amazon warehouse, SKU) at a cut-off."""

    snapshot: Snapshot | None
    restocked_since: int  # units restocked (net) with a business time after snapshot.as_of
    confirmed: int | None  # what Amazon last confirmed holding (None: never told by us)
    released: bool = False  # a person released a held drop since Amazon last confirmed


@dataclass(frozen=True)
class Decision:
    """Send ``quantity``, or hold the position under ``hold`` (an exception code) because of
    ``why``."""

    quantity: int | None = None
    hold: ExceptionCode | None = None
    why: str = ""


def decide(view: PositionView, guards: StockGuards, now: datetime) -> Decision:
    """What to tell Amazon about one position of a ``snapshot`` warehouse."""
    snapshot = view.snapshot
    if snapshot is None:
        return Decision(
            hold=ExceptionCode.STOCK_SNAPSHOT_MISSING, why="no stock snapshot for this position"
        )
    age = now - snapshot.as_of
    if age > guards.max_snapshot_age:
        return Decision(
            hold=ExceptionCode.STOCK_SNAPSHOT_STALE,
            why=f"snapshot as of {snapshot.as_of.isoformat()} is {_hours(age)} old (limit "
            f"{_hours(guards.max_snapshot_age)})",
        )
    quantity = max(0, snapshot.available + view.restocked_since)
    if view.confirmed is not None and not view.released:
        drop = view.confirmed - quantity
        if drop >= guards.drop_min_units and drop > guards.drop_share * view.confirmed:
            return Decision(
                quantity=quantity,
                hold=ExceptionCode.STOCK_DROP_HELD,
                why=f"{quantity} is {drop} below the {view.confirmed} Amazon last confirmed",
            )
    return Decision(quantity=quantity)


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f} h"


__all__ = [
    "AmazonWarehouse",
    "Decision",
    "PositionView",
    "Snapshot",
    "StockAuthority",
    "StockGuards",
    "WarehouseMap",
    "decide",
]
