"""Read a stock snapshot of the brand's WMS/ERP from CSV (docs/stock.md#the-snapshot-file).

Columns (header row required, any order, no others): ``warehouse`` (the Amazon warehouse id,
or a ZigZag DC code mapped to it), ``sku``, ``available`` (whole units the warehouse can ship,
not negative), ``as_of`` (ISO 8601 with a UTC offset: the business time through which the WMS
has booked every movement, restocks of returns included). A file with any bad cell is refused
whole, every problem named (file, row, field): a half snapshot is a wrong number for Amazon.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.masterdata.csv_file import dict_reader

COLUMNS = ("warehouse", "sku", "available", "as_of")
MAX_ERRORS = 20


class StockFileError(ReturnBridgeError):
    """A stock snapshot file breaks a rule; the message names file, row and field."""

    code = "stock.invalid"


@dataclass(frozen=True)
class SnapshotRow:
    """One row of a snapshot file, as read (the warehouse and SKU not yet resolved)."""

    row: int
    warehouse: str
    sku: str
    available: int
    as_of: datetime


def read_stock_snapshot(path: Path) -> list[SnapshotRow]:
    """Every row of the file, or a ``StockFileError`` listing every bad cell found."""
    reader = dict_reader(path, COLUMNS, COLUMNS, StockFileError)
    rows: list[SnapshotRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        number = reader.line_num

        def fail(field: str, why: str, number: int = number) -> None:
            errors.append(f"{path.name} row {number}, field '{field}': {why}")

        if None in row:
            fail("(row)", "more cells than the header has columns")
            continue
        cells = {name: (row.get(name) or "").strip() for name in COLUMNS}
        for name in ("warehouse", "sku"):
            if not cells[name]:
                fail(name, "is empty")
        available = _units(cells["available"])
        if available is None:
            fail("available", f"{cells['available']!r} is not a whole number of units, 0 or more")
        as_of = _aware(cells["as_of"])
        if as_of is None:
            fail(
                "as_of",
                f"{cells['as_of']!r} is not an ISO 8601 time with a UTC offset "
                "(e.g. 2026-11-02T01:00:00Z)",
            )
        key = (cells["warehouse"], cells["sku"])
        if all(key) and key in seen:
            fail("sku", f"{key[1]} at {key[0]} is listed twice (first on row {seen[key]})")
        seen.setdefault(key, number)
        if len(errors) >= MAX_ERRORS:
            break
        if errors or available is None or as_of is None:
            continue
        rows.append(SnapshotRow(number, cells["warehouse"], cells["sku"], available, as_of))
    if errors:
        raise StockFileError("; ".join(errors))
    return rows


def _units(text: str) -> int | None:
    if not text.isdigit():
        return None
    return int(text)


def _aware(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


__all__ = ["COLUMNS", "SnapshotRow", "StockFileError", "read_stock_snapshot"]
