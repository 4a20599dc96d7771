"""Importing a stock snapshot of the brand's WMS/ERP (``returnbridge import stock FILE``).

Each row names its warehouse by the Amazon warehouse id or by a ZigZag DC mapped to it, and its
product by any identifier the catalog knows. A row for a warehouse returnbridge does not send
stock for (authority ``none``, or not in the warehouse map) refuses the whole file: the file is
meant for another system, or the map is wrong, and a guess would send a wrong number. A product
the catalog does not know is skipped and listed (a WMS holds more products than are sold on
Amazon).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from returnbridge.domain.catalog import Catalog
from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.domain.stock import StockAuthority, WarehouseMap

MAX_PROBLEMS = 20


class StockSnapshotRefused(ReturnBridgeError):
    """A snapshot file names warehouses returnbridge does not send stock for."""

    code = "stock.refused"


class SnapshotLine(Protocol):
    @property
    def row(self) -> int: ...
    @property
    def warehouse(self) -> str: ...
    @property
    def sku(self) -> str: ...
    @property
    def available(self) -> int: ...
    @property
    def as_of(self) -> datetime: ...


@dataclass
class ResolvedSnapshot:
    rows: list[tuple[str, str, int, datetime]] = field(default_factory=list)
    not_in_catalog: list[str] = field(default_factory=list)  # identifiers skipped
    per_warehouse: dict[str, int] = field(default_factory=dict)


def resolve_snapshot(
    name: str, lines: Sequence[SnapshotLine], warehouses: WarehouseMap, catalog: Catalog
) -> ResolvedSnapshot:
    """The rows as (Amazon warehouse id, canonical SKU, available, as_of), or a refusal naming
    every row that cannot be taken."""
    found = ResolvedSnapshot()
    problems: list[str] = []
    first_row: dict[tuple[str, str], int] = {}
    for line in lines:
        warehouse = warehouses.resolve(line.warehouse)
        where = f"{name} row {line.row}, field 'warehouse'"
        if warehouse is None:
            problems.append(
                f"{where}: {line.warehouse!r} is neither an Amazon warehouse nor a ZigZag DC of "
                "the warehouses file (returnbridge warehouses show)"
            )
        elif warehouses.authority(warehouse) is not StockAuthority.SNAPSHOT:
            problems.append(
                f"{where}: Amazon warehouse {warehouse}'s stock authority is 'none': the brand's "
                "own feed informs Amazon, so returnbridge takes no snapshot for it (set "
                "stock_authority = 'snapshot' in the warehouses file to make returnbridge the "
                "sender, and turn that feed off)"
            )
        if len(problems) >= MAX_PROBLEMS:
            break
        if warehouse is None or problems:
            continue
        match = catalog.resolve(line.sku)
        if match is None:
            found.not_in_catalog.append(line.sku)
            continue
        key = (warehouse, match.item.sku)
        if key in first_row:
            problems.append(
                f"{name} row {line.row}, field 'sku': {line.sku} at {warehouse} is already on "
                f"row {first_row[key]} (two DCs of one Amazon warehouse, or two codes of one "
                "product: list each position once, with the units added up)"
            )
            continue
        first_row[key] = line.row
        found.rows.append((warehouse, match.item.sku, line.available, line.as_of))
        found.per_warehouse[warehouse] = found.per_warehouse.get(warehouse, 0) + 1
    if problems:
        raise StockSnapshotRefused("; ".join(problems))
    return found


__all__ = ["ResolvedSnapshot", "StockSnapshotRefused", "resolve_snapshot"]
