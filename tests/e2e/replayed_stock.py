"""For the CLI tests that send a demo day to Amazon with `cycle close` on the wall clock: the
demo's warehouse map with a freshness limit that takes the replayed day's snapshot as fresh
(freshness has tests of its own), and what Amazon must then hold, worked out from the tables."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from returnbridge.sandboxes.amazon.config import read_opening_stock

RUN = [sys.executable, "-m", "returnbridge"]
DCS = {"UK-DC1": "CASTUK-LHR", "UK-DC2": "CASTUK-MAN", "DE-DC1": "CASTDE-FRA"}
WAREHOUSES = "[stock]\nsnapshot_max_age_hours = 8760\n\n" + "".join(
    f'[dcs.{dc}]\namazon_warehouse = "{w}"\n\n[warehouses.{w}]\nstock_authority = "snapshot"\n\n'
    for dc, w in DCS.items()
)


def replayed_day(out: Path, returns: int, seed: int = 7) -> Path:
    """A demo day processed, not sent to Amazon, its opening snapshot imported and taken as
    fresh; returns the database file."""
    subprocess.run(
        [*RUN, "demo", "--returns", str(returns), "--seed", str(seed), "--no-amazon",
         "--out", str(out)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    warehouses = out / "warehouses-replay.toml"
    warehouses.write_text(WAREHOUSES, encoding="utf-8")
    db = f"sqlite:///{out / 'returnbridge.db'}"
    subprocess.run(
        [*RUN, "warehouses", "load", str(warehouses), "--db", db], check=True, capture_output=True
    )
    return out / "returnbridge.db"


def opening(db_file: Path) -> tuple[tuple[str, str, int], ...]:
    """What Amazon held before the first cycle: the opening snapshot the demo wrote."""
    return read_opening_stock(db_file.parent / "stock-snapshot.csv")


def expected_stock(db_file: Path) -> dict[tuple[str, str], int]:
    """Snapshot + net units restocked after its as_of (business time), per position."""
    with sqlite3.connect(db_file) as conn:
        found = {
            (w, s): (n, as_of)
            for w, s, n, as_of in conn.execute(
                "SELECT warehouse, sku, available, as_of FROM stock_snapshots"
            )
        }
        expected = {key: n for key, (n, _) in found.items()}
        for dc, sku, quantity, at in conn.execute(
            "SELECT warehouse, sku, quantity, coalesce(occurred_at, created_at)"
            " FROM stock_movements"
        ):
            key = (DCS[dc], sku)
            if key in found and at > found[key][1]:
                expected[key] += quantity
    return {key: max(0, n) for key, n in expected.items()}
