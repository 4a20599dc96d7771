"""Which stock positions a clearing cycle tells Amazon, and which it holds (``domain/stock.py``).

A pending ``amazon.inventory`` message only says that a return moved stock at a ZigZag DC. What
goes to Amazon is worked out per (Amazon warehouse, SKU) from the warehouse's stock authority:

- a DC not in the warehouse map: nothing is sent under its code; its messages wait, and one
  ``UNMAPPED_WAREHOUSE`` per DC says so;
- authority ``none``: nothing is sent; the messages are settled ``withheld`` (the restocks reach
  the ERP as stock adjustments, and the brand's own feed informs Amazon);
- authority ``snapshot``: every position with a snapshot or a restock is worked out as
  ``snapshot.available`` + the units restocked after ``snapshot.as_of``; one that differs from
  what Amazon holds (or was last sent) goes, unless it is held: no snapshot
  (``STOCK_SNAPSHOT_MISSING``, one per warehouse), a stale one (``STOCK_SNAPSHOT_STALE``, one
  per warehouse), or a drop far below what Amazon confirmed (``STOCK_DROP_HELD``, one per
  position, until a person releases it). A held position's messages wait.

Each hold is an exception with a subject; it closes by itself at the first cycle that finds its
cause gone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from returnbridge.domain.errors import ExceptionCode
from returnbridge.domain.stock import (
    PositionView,
    Snapshot,
    StockAuthority,
    WarehouseMap,
    decide,
)

HOLD_CODES = (
    ExceptionCode.STOCK_SNAPSHOT_MISSING,
    ExceptionCode.STOCK_SNAPSHOT_STALE,
    ExceptionCode.STOCK_DROP_HELD,
    ExceptionCode.UNMAPPED_WAREHOUSE,
)
REJECTED_CODES = (ExceptionCode.AMAZON_REJECTED, ExceptionCode.AMAZON_STUCK)
RELEASED = "release"  # the resolution of a held drop a person let go
WITHHELD = "withheld"  # outbox status: a restock at a warehouse returnbridge never sends stock of


def position_subject(warehouse: str, sku: str) -> str:
    return f"position:{warehouse}/{sku}"


class RestockRow(Protocol):
    @property
    def dc(self) -> str: ...
    @property
    def sku(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def quantity(self) -> int: ...


class StockStore(Protocol):
    """The store as the stock plan needs it (in the cycle's transaction)."""

    def warehouse_map(self) -> WarehouseMap: ...
    def snapshots(self, warehouses: Sequence[str]) -> dict[tuple[str, str], Snapshot]: ...
    def restocks_since(self, dcs: Sequence[str], since: datetime) -> Sequence[RestockRow]: ...
    def confirmed_positions(self) -> dict[tuple[str, str], tuple[int, datetime]]: ...
    def in_flight_positions(self) -> dict[tuple[str, str], int]: ...
    def open_subjects(self, codes: Sequence[str]) -> dict[tuple[str, str], int]: ...
    def releases(self, code: str, resolution: str) -> dict[str, tuple[datetime, int | None]]: ...
    def add_subject_exception(
        self, code: str, subject: str, message: str, raw: dict[str, Any], now: datetime
    ) -> int: ...
    def close_exception(
        self, exception_id: int, status: str, now: datetime, by: str, resolution: str, note: str
    ) -> None: ...
    def settle_outbox(self, outbox_ids: Sequence[int], status: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class PendingStock:
    """A pending ``amazon.inventory`` message: a stock change at a ZigZag DC."""

    outbox_id: int
    dc: str
    sku: str


@dataclass
class StockPlan:
    """What one cut-off sends, per Amazon warehouse: (SKU, quantity, the messages it settles)."""

    sends: dict[str, list[tuple[str, int, list[int]]]] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # code -> positions
    unmapped_dcs: list[str] = field(default_factory=list)
    withheld: int = 0  # messages settled unsent: their warehouse's authority is none
    unchanged: int = 0  # messages settled unsent: Amazon already holds (or is sent) the figure

    @property
    def positions(self) -> int:
        return sum(len(v) for v in self.sends.values())


def plan_stock(store: StockStore, pending: Sequence[PendingStock], now: datetime) -> StockPlan:
    """Work out the cut-off's positions and holds, and settle what needs no call (in the
    caller's transaction)."""
    warehouses = store.warehouse_map()
    plan = StockPlan()
    holds: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    unmapped: dict[str, list[PendingStock]] = defaultdict(list)
    changed: dict[tuple[str, str], list[int]] = defaultdict(list)
    withheld: list[int] = []
    for change in pending:
        mapped = warehouses.amazon_warehouse(change.dc)
        if mapped is None:
            unmapped[change.dc].append(change)
        elif mapped.authority is StockAuthority.NONE:
            withheld.append(change.outbox_id)
        else:
            changed[(mapped.id, change.sku)].append(change.outbox_id)
    store.settle_outbox(withheld, WITHHELD, now)
    plan.withheld = len(withheld)
    for dc, changes in sorted(unmapped.items()):
        skus = sorted({c.sku for c in changes})
        holds[(ExceptionCode.UNMAPPED_WAREHOUSE, f"dc:{dc}")] = (
            f"ZigZag DC {dc} restocked {len(skus)} SKU(s) but is not mapped to an Amazon "
            f"warehouse: nothing is sent under {dc}'s own code. Map it in the warehouses file "
            "(returnbridge warehouses load FILE); its changes wait and go at the next cycle",
            {"dc": dc, "skus": skus[:50], "messages": len(changes)},
        )
        plan.unmapped_dcs.append(dc)

    snapshot_ids = sorted(
        w.id for w in warehouses.warehouses.values() if w.authority is StockAuthority.SNAPSHOT
    )
    snapshots = store.snapshots(snapshot_ids)
    restocked = _restocked_since(store, warehouses, snapshots, now)
    confirmed = store.confirmed_positions()
    in_flight = store.in_flight_positions()
    refused = {s for (_, s) in store.open_subjects(list(REJECTED_CODES))}
    releases = store.releases(ExceptionCode.STOCK_DROP_HELD, RELEASED)
    by_warehouse: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for key in sorted(set(changed) | set(snapshots)):
        warehouse, sku = key
        snapshot = snapshots.get(key)
        last = confirmed.get(key)
        expected = in_flight.get(key, last[0] if last else None)
        target = (
            max(0, snapshot.available + restocked.get(key, 0)) if snapshot is not None else None
        )
        if target is not None and target == expected:
            if changed.get(key):
                store.settle_outbox(changed[key], "netted", now)
                plan.unchanged += len(changed[key])
            continue
        if position_subject(warehouse, sku) in refused:
            continue  # Amazon refused this position: it waits for a person (AMAZON_REJECTED)
        release = releases.get(position_subject(warehouse, sku))
        view = PositionView(
            snapshot,
            restocked.get(key, 0),
            last[0] if last else None,
            # A release lets go the figure the person checked, once: not another one found later.
            released=release is not None
            and (last is None or release[0] > last[1])
            and release[1] == target,
        )
        decision = decide(view, warehouses.guards, now)
        if decision.hold is None:
            assert decision.quantity is not None
            plan.sends.setdefault(warehouse, []).append(
                (sku, decision.quantity, changed.get(key, []))
            )
            continue
        plan.held[decision.hold] += 1
        if decision.hold is ExceptionCode.STOCK_DROP_HELD:
            holds[(decision.hold, position_subject(warehouse, sku))] = (
                f"Stock for {sku} at Amazon warehouse {warehouse} is held: {decision.why}. "
                "Check it against the WMS, then release it (it goes at the next clearing cycle) "
                "or ignore it with a note",
                {
                    "warehouse": warehouse,
                    "sku": sku,
                    "quantity": decision.quantity,
                    "confirmed": view.confirmed,
                    "snapshot": _snapshot_raw(snapshot),
                    "restocked_since": view.restocked_since,
                },
            )
        else:
            by_warehouse[f"{decision.hold}:{warehouse}"].append((sku, [decision.why]))
    for name, held in by_warehouse.items():
        code, warehouse = name.split(":", 1)
        holds[(code, f"warehouse:{warehouse}")] = _warehouse_hold(code, warehouse, held)
    _settle_holds(store, holds, now)
    return plan


def _restocked_since(
    store: StockStore,
    warehouses: WarehouseMap,
    snapshots: dict[tuple[str, str], Snapshot],
    now: datetime,
) -> dict[tuple[str, str], int]:
    """Net units restocked per position with a business time after its snapshot's as_of. Only
    movements after the oldest fresh snapshot are read: a staler one holds its position
    whatever was restocked since, so the read stays a day's worth, not the ledger's."""
    if not snapshots:
        return {}
    since = max(
        min(s.as_of for s in snapshots.values()), now - warehouses.guards.max_snapshot_age
    )
    dcs = sorted({dc for dc, w in warehouses.dcs.items() if any(k[0] == w for k in snapshots)})
    found: dict[tuple[str, str], int] = defaultdict(int)
    for row in store.restocks_since(dcs, since):
        key = (warehouses.dcs[row.dc], row.sku)
        snapshot = snapshots.get(key)
        if snapshot is not None and row.occurred_at > snapshot.as_of:
            found[key] += row.quantity
    return found


def _warehouse_hold(
    code: str, warehouse: str, skus: list[tuple[str, list[str]]]
) -> tuple[str, dict[str, Any]]:
    first = ", ".join(sku for sku, _ in skus[:5]) + (" ..." if len(skus) > 5 else "")
    if code == ExceptionCode.STOCK_SNAPSHOT_MISSING:
        message = (
            f"Amazon warehouse {warehouse} has no stock snapshot for {len(skus)} position(s) "
            f"with restocks ({first}): nothing is sent for them. Import the WMS/ERP snapshot "
            "(returnbridge import stock FILE); they go at the next clearing cycle"
        )
    else:
        message = (
            f"The stock snapshot of Amazon warehouse {warehouse} is too old for {len(skus)} "
            f"position(s) ({first}; {skus[0][1][0]}): nothing is sent for them. Import a fresh "
            "WMS/ERP snapshot (returnbridge import stock FILE)"
        )
    return message, {"warehouse": warehouse, "skus": [sku for sku, _ in skus[:200]],
                     "positions": len(skus)}  # fmt: skip


def _snapshot_raw(snapshot: Snapshot | None) -> dict[str, Any] | None:
    if snapshot is None:
        return None
    return {"available": snapshot.available, "as_of": snapshot.as_of.isoformat()}


def _settle_holds(
    store: StockStore,
    holds: dict[tuple[str, str], tuple[str, dict[str, Any]]],
    now: datetime,
) -> None:
    """Open each hold not open yet; close each open one whose cause is gone."""
    open_now = store.open_subjects(list(HOLD_CODES))
    for (code, subject), (message, raw) in sorted(holds.items()):
        if (code, subject) not in open_now:
            store.add_subject_exception(code, subject, message, raw, now)
    for (code, subject), exception_id in sorted(open_now.items()):
        if (code, subject) not in holds:
            store.close_exception(
                exception_id,
                "resolved",
                now,
                "returnbridge",
                "cleared",
                "the cause is gone: the position went, or has nothing to send",
            )


__all__ = [
    "HOLD_CODES",
    "RELEASED",
    "WITHHELD",
    "PendingStock",
    "StockPlan",
    "StockStore",
    "plan_stock",
    "position_subject",
]
