"""The one shape every report is built in: titled tables of typed columns.

Money is kept as integers of minor units until the last step: the workbook writes it as a
decimal number of major units with a two-decimal format, the HTML page with thousands separators.
A money column names its currency in a column of its own (``currency_column``), so a table can
hold more than one currency without mixing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"  # a count
    MONEY = "money"  # minor units (pence, cents)
    DAYS = "days"  # a number of days, may be fractional
    PERCENT = "percent"  # a share from 0 to 1
    DATE = "date"  # a datetime.date
    DATETIME = "datetime"  # an aware datetime.datetime, shown in UTC


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = Kind.TEXT
    width: int | None = None  # characters; a sensible width per kind when not given


@dataclass(frozen=True)
class Table:
    """A titled table. ``name`` is the sheet name (at most 31 characters, unique in a report);
    ``total`` names the columns whose sum makes a totals row (counts and money only)."""

    name: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    note: str = ""
    total: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if len(self.name) > 31 or any(c in self.name for c in "[]:*?/\\"):
            raise ValueError(f"{self.name!r} cannot name a sheet (31 characters, no []:*?/\\)")
        width = len(self.columns)
        for n, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"{self.name}: row {n} has {len(row)} cells for {width} columns")
        headers = [c.header for c in self.columns]
        for name in self.total:
            if name not in headers:
                raise ValueError(f"{self.name}: no column {name!r} to total")

    def index(self, header: str) -> int:
        return [c.header for c in self.columns].index(header)

    def column_total(self, header: str) -> int:
        i = self.index(header)
        return sum(int(row[i] or 0) for row in self.rows)
