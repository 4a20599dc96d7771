"""The stock authority's side of the database: the warehouse map in force, snapshots, the
restocks since a snapshot, what Amazon confirmed, and the exceptions that hold positions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from returnbridge.domain.stock import Snapshot, WarehouseMap
from returnbridge.store.sql import SqlStore, aware
from returnbridge.store.tables import (
    amazon_positions,
    amazon_submissions,
    exceptions,
    stock_movements,
    stock_snapshots,
)

WAREHOUSES = "warehouses"  # the config document of the warehouse map
_S = stock_snapshots.c
INSERT_SNAPSHOT = insert(stock_snapshots).values(
    warehouse=bindparam("w"),
    sku=bindparam("s"),
    available=bindparam("available"),
    as_of=bindparam("as_of"),
    source=bindparam("source"),
    imported_at=bindparam("imported_at"),
)
UPDATE_SNAPSHOT = (
    update(stock_snapshots)
    .where(_S.warehouse == bindparam("w"), _S.sku == bindparam("s"))
    .values(
        available=bindparam("available"),
        as_of=bindparam("as_of"),
        source=bindparam("source"),
        imported_at=bindparam("imported_at"),
    )
)
_BUSINESS_TIME = func.coalesce(stock_movements.c.occurred_at, stock_movements.c.created_at)


@dataclass(frozen=True)
class Restock:
    """A stock movement at a ZigZag DC, at its business time."""

    dc: str
    sku: str
    occurred_at: datetime
    quantity: int


@dataclass(frozen=True)
class SnapshotImport:
    stored: int  # positions whose snapshot this file replaced (or gave for the first time)
    older: int  # rows not taken: the position already has a snapshot as of that time or later


class SqlStockStore(SqlStore):
    """Stock reads and writes for the clearing cycle and ``import stock``."""

    def warehouse_map(self) -> WarehouseMap:
        """The warehouse map in force; none loaded: an empty one (every DC unmapped)."""
        found = self.config(WAREHOUSES)
        return WarehouseMap.from_dict(json.loads(found[1])) if found else WarehouseMap()

    def save_warehouse_map(self, warehouses: WarehouseMap, source: str, now: datetime) -> int:
        return self.save_config(WAREHOUSES, source, json.dumps(warehouses.to_dict()), now)

    def import_snapshot(
        self, rows: Iterable[tuple[str, str, int, datetime]], source: str, now: datetime
    ) -> SnapshotImport:
        """Take each (warehouse, SKU, available, as_of) unless the position already has a
        snapshot as of that time or later: a file imported again, or an older one after a
        newer, changes nothing."""
        rows = list(rows)
        current = self._snapshot_times({w for w, _, _, _ in rows})
        new: list[dict[str, Any]] = []
        newer: list[dict[str, Any]] = []
        for warehouse, sku, available, as_of in rows:
            as_of = as_of.astimezone(UTC)
            had = current.get((warehouse, sku))
            if had is not None and had >= as_of:
                continue
            values = {"w": warehouse, "s": sku, "available": available, "as_of": as_of,
                      "source": source, "imported_at": now}  # fmt: skip
            (new if had is None else newer).append(values)
        if new:
            self.conn.execute(INSERT_SNAPSHOT, new)
        if newer:
            self.conn.execute(UPDATE_SNAPSHOT, newer)
        stored = len(new) + len(newer)
        return SnapshotImport(stored, len(rows) - stored)

    def _snapshot_times(self, warehouses: set[str]) -> dict[tuple[str, str], datetime]:
        s = stock_snapshots.c
        rows = self.conn.execute(
            select(s.warehouse, s.sku, s.as_of).where(s.warehouse.in_(sorted(warehouses)))
        )
        return {(r.warehouse, r.sku): aware(r.as_of) for r in rows}

    def snapshots(self, warehouses: Sequence[str]) -> dict[tuple[str, str], Snapshot]:
        s = stock_snapshots.c
        rows = self.conn.execute(
            select(s.warehouse, s.sku, s.available, s.as_of).where(
                s.warehouse.in_(list(warehouses))
            )
        )
        return {(r.warehouse, r.sku): Snapshot(int(r.available), aware(r.as_of)) for r in rows}

    def restocks_since(self, dcs: Sequence[str], since: datetime) -> list[Restock]:
        """The stock movements at ``dcs`` with a business time after ``since``."""
        m = stock_movements.c
        rows = self.conn.execute(
            select(m.warehouse, m.sku, _BUSINESS_TIME.label("at"), m.quantity).where(
                m.warehouse.in_(list(dcs)), since < _BUSINESS_TIME
            )
        )
        return [Restock(r.warehouse, r.sku, aware(r.at), int(r.quantity)) for r in rows]

    def confirmed_positions(self) -> dict[tuple[str, str], tuple[int, datetime]]:
        """What Amazon last confirmed holding per (warehouse, SKU), and when."""
        rows = self.conn.execute(select(amazon_positions))
        return {(r.warehouse, r.sku): (int(r.quantity), aware(r.synced_at)) for r in rows}

    def in_flight_positions(self) -> dict[tuple[str, str], int]:
        """The quantities prepared or sent to Amazon and not yet final (the latest per
        position)."""
        a = amazon_submissions.c
        rows = self.conn.execute(
            select(a.warehouse, a.body)
            .where(a.operation == "inventory", a.status.in_(["prepared", "sent"]))
            .order_by(a.id)
        )
        found: dict[tuple[str, str], int] = {}
        for r in rows:
            for p in json.loads(r.body)["positions"]:
                found[(r.warehouse, p["sku"])] = int(p["quantity"])
        return found

    def open_subjects(self, codes: Sequence[str]) -> dict[tuple[str, str], int]:
        """Open exceptions of ``codes`` that have a subject: (code, subject) -> id."""
        e = exceptions.c
        rows = self.conn.execute(
            select(e.id, e.code, e.subject).where(
                e.status == "open", e.code.in_(list(codes)), e.subject.is_not(None)
            )
        )
        return {(r.code, r.subject): int(r.id) for r in rows}

    def releases(self, code: str, resolution: str) -> dict[str, tuple[datetime, int | None]]:
        """Subject -> when an exception of ``code`` on it was last closed with ``resolution``,
        and the quantity it held (its raw ``quantity``)."""
        e = exceptions.c
        rows = self.conn.execute(
            select(e.subject, e.resolved_at, e.raw)
            .where(e.code == code, e.resolution == resolution, e.subject.is_not(None))
            .order_by(e.resolved_at)
        )
        return {r.subject: (aware(r.resolved_at), json.loads(r.raw).get("quantity")) for r in rows}

    def add_subject_exception(
        self, code: str, subject: str, message: str, raw: dict[str, Any], now: datetime
    ) -> int:
        values = {
            "code": code,
            "status": "open",
            "subject": subject,
            "message": message,
            "raw": json.dumps(raw, sort_keys=True),
            "created_at": now,
        }
        return self._insert(insert(exceptions), values)


__all__ = ["WAREHOUSES", "Restock", "SnapshotImport", "SqlStockStore"]
