"""ZigZag CSV exports: one row per line of an event, rows of one event next to each other.

Read as a stream (bounded memory whatever the file size). Every event becomes the same JSON
payload a webhook would carry, so all transports share one code path after this module. A row
that cannot be read becomes an unreadable record (kept raw, with the reason naming the row); the
rest of the file still imports. See docs/zigzag-events.md for the columns.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from returnbridge.connectors.validation import describe
from returnbridge.connectors.zigzag.records import inbox_record
from returnbridge.connectors.zigzag.wire import SOURCE, WireEvent
from returnbridge.domain.errors import InvalidEvent
from returnbridge.services.ports import InboxRecord

COLUMNS = (
    "event_id",
    "event_type",
    "occurred_at",
    "retailer_code",
    "order_number",
    "return_id",
    "dc_warehouse",
    "channel_order_ref",
    "rma_id",
    "line_id",
    "sku",
    "quantity",
    "return_reason_id",
    "grade",
    "disposition",
    "charge_id",
    "charge_type",
    "charge_amount",
    "currency",
)
REQUIRED = ("event_id", "event_type", "occurred_at", "return_id")
EVENT_FIELDS = {
    "event_type": "type",
    "occurred_at": "occurredAt",
    "retailer_code": "retailerCode",
    "order_number": "orderNumber",
    "return_id": "returnId",
    "dc_warehouse": "dcWarehouse",
    "channel_order_ref": "channelOrderRef",
    "rma_id": "rmaId",
}
LINE_FIELDS = {
    "line_id": "lineId",
    "sku": "sku",
    "quantity": "quantity",
    "return_reason_id": "returnReasonId",
    "grade": "grade",
    "disposition": "disposition",
}
MAX_FIELD = 1_000
# bytes that are not UTF-8, as Python's surrogateescape reads them
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
MAX_RAW_KEPT = 20_000_000


class CsvFileError(InvalidEvent):
    """The file as a whole cannot be read (no header, required columns missing)."""

    code = "csv.unreadable"


@dataclass
class _Row:
    number: int
    cells: dict[str, str]
    raw: str
    problem: str | None = None
    event_id: str = ""  # read even from a bad row where it can be, to keep its event whole


def _raw_text(cells: list[str]) -> str:
    """The row as it was, with undecodable bytes written as \\x escapes."""
    text = ",".join(cells)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _rows(path: Path, on_bytes: Callable[[int], None] | None) -> Iterator[_Row]:
    csv.field_size_limit(MAX_RAW_KEPT)
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower().lstrip("\ufeff") for h in next(reader)]
        except StopIteration as exc:
            raise CsvFileError(f"{path.name}: the file is empty") from exc
        except csv.Error as exc:
            raise CsvFileError(f"{path.name}: the header cannot be read: {exc}") from exc
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise CsvFileError(f"{path.name}: header lacks column(s) {', '.join(missing)}")
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield _Row(reader.line_num, {}, "", f"cannot be parsed as CSV: {exc}")
                continue
            if on_bytes is not None and reader.line_num % 1000 == 0:
                on_bytes(handle.buffer.tell())  # type: ignore[attr-defined]
            if not any(c.strip() for c in cells):
                continue
            at = header.index("event_id")
            guess = cells[at].strip() if len(cells) > at else ""
            row = _Row(reader.line_num, {}, _raw_text(cells), event_id=guess)
            if len(cells) != len(header):
                row.problem = f"has {len(cells)} cells, the header has {len(header)}"
            elif any(_NOT_UTF8.search(c) for c in cells):
                row.problem = "is not valid UTF-8"
            else:
                long = [
                    (h, len(c)) for h, c in zip(header, cells, strict=True) if len(c) > MAX_FIELD
                ]
                if long:
                    name, size = long[0]
                    row.problem = f"field '{name}' is {size} characters (limit {MAX_FIELD})"
                else:
                    row.cells = {h: c.strip() for h, c in zip(header, cells, strict=True)}
            yield row


def _int_cell(value: str, name: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"field '{name}' is {value!r}, not a whole number") from None


def _wire_dict(rows: list[_Row]) -> dict[str, Any]:
    first = rows[0].cells
    event: dict[str, Any] = {"id": first["event_id"]}
    for column, key in EVENT_FIELDS.items():
        values = {r.cells.get(column, "") for r in rows}
        if len(values) > 1:
            raise ValueError(f"rows of one event disagree on '{column}': {sorted(values)}")
        if value := first.get(column, ""):
            event[key] = value
    lines = []
    for row in rows:
        cells = row.cells
        if cells.get("line_id"):
            line: dict[str, Any] = {}
            for column, key in LINE_FIELDS.items():
                value = cells.get(column, "")
                if column in ("quantity", "return_reason_id"):
                    number = _int_cell(value, column)
                    if number is not None:
                        line[key] = number
                elif value:
                    line[key] = value
            lines.append(line)
        if cells.get("charge_id"):
            if "charge" in event:
                raise ValueError("one event carries two charges")
            event["charge"] = {
                "chargeId": cells["charge_id"],
                "type": cells.get("charge_type", ""),
                "amount": cells.get("charge_amount", ""),
                "currency": cells.get("currency", ""),
            }
            if cells.get("sku") and not cells.get("line_id"):
                event["charge"]["sku"] = cells["sku"]
    if lines:
        event["lines"] = lines
    return event


def _unreadable(path: Path, rows: list[_Row], why: str) -> InboxRecord:
    first = rows[0]
    where = f"row {first.number}" if len(rows) == 1 else f"rows {first.number}-{rows[-1].number}"
    raw = "\n".join(r.raw for r in rows)
    digest = hashlib.sha256(raw.encode("utf-8", "backslashreplace")).hexdigest()[:16]
    # Keyed by content, not by file name or row: the same bad rows imported again (under any
    # file name) are a duplicate, not a second exception.
    event_id = first.event_id or "row"
    return InboxRecord(
        source=SOURCE,
        event_id=f"{event_id}#unreadable-{digest}",
        event_type=first.cells.get("event_type") or "unreadable",
        payload=raw,
        invalid_reason=f"{path.name} {where}: {why}",
    )


def _record(path: Path, rows: list[_Row]) -> InboxRecord:
    try:
        wire = WireEvent.model_validate(_wire_dict(rows))
    except ValidationError as exc:
        return _unreadable(path, rows, describe(exc))
    except ValueError as exc:
        return _unreadable(path, rows, str(exc))
    return inbox_record(wire)


def read_export(path: Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[InboxRecord]:
    """One inbox record per event of the file, in file order; raises ``CsvFileError``.

    The rows of one event stay together: one bad row makes its whole event unreadable (kept
    raw, every row of it), never a shorter event that looks valid. ``on_bytes`` is told, now
    and then, how far into the file the reader is (for progress).
    """
    group: list[_Row] = []
    parts: set[str] = set()
    for row in _rows(path, on_bytes):
        part = f"{row.cells.get('line_id', '')}|{row.cells.get('charge_id', '')}"
        repeat = part in parts and row.problem is None
        if group and (not row.event_id or row.event_id != group[0].event_id or repeat):
            # A new event starts, or the same event again (an exported duplicate).
            yield _group_record(path, group)
            group, parts = [], set()
        group.append(row)
        parts.add(part)
    if group:
        yield _group_record(path, group)


def _group_record(path: Path, rows: list[_Row]) -> InboxRecord:
    bad = [r for r in rows if r.problem is not None]
    if not bad:
        return _record(path, rows)
    if len(rows) == 1:
        return _unreadable(path, rows, str(rows[0].problem))
    return _unreadable(path, rows, "; ".join(f"row {r.number} {r.problem}" for r in bad))
