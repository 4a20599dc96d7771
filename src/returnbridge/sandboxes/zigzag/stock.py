"""The opening stock snapshot of the demo's day, as the brand's WMS/ERP would export it.

Every sellable product of the day's catalog has stock at every warehouse before the first return
is graded, so a clearing cycle that sent the returns alone would visibly overwrite it. The file
has the columns of ``returnbridge import stock`` (``warehouse,sku,available,as_of``), and the
Amazon sandbox starts holding the same positions (``SandboxConfig.opening_stock``).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from returnbridge.sandboxes.zigzag.generator import DAY_START, DemoDay

OPENING_AS_OF = DAY_START - timedelta(hours=5)  # 01:00 on the day: the WMS's nightly export
COLUMNS = ("warehouse", "sku", "available", "as_of")


def opening_stock(day: DemoDay, warehouses: Iterable[str]) -> list[tuple[str, str, int]]:
    """(warehouse, SKU, units) for every inventory product at each warehouse, seeded by the
    day: the same seed gives the same stock."""
    rng = random.Random(f"{day.seed}/opening-stock")
    return [
        (warehouse, p.sku, rng.randint(5, 240))
        for warehouse in sorted(set(warehouses))
        for p in day.products
        if not p.non_inventory
    ]


def write_stock_snapshot(
    rows: Iterable[tuple[str, str, int]], path: Path, as_of: datetime = OPENING_AS_OF
) -> None:
    stamp = as_of.isoformat().replace("+00:00", "Z")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows((w, sku, units, stamp) for w, sku, units in rows)
