"""What every CSV file the brand hands in gets first: read whole, UTF-8 (a byte-order mark
accepted), a header whose column names are not case-sensitive, none missing, none unknown. Each
refusal names the file (and the row of a byte that is not UTF-8) and is raised as the caller's
own error class, so the file's command answers with its own code."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from returnbridge.domain.errors import ReturnBridgeError


def read_text(path: Path, error: type[ReturnBridgeError]) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        raise error(
            f"{path.name} row {line_no}: not UTF-8 text (byte {exc.start}: {data[exc.start]:#04x})"
        ) from exc


def checked_header(
    path: Path,
    header: Sequence[str],
    required: Sequence[str],
    known: Sequence[str],
    error: type[ReturnBridgeError],
) -> list[str]:
    """The header's column names in lower case, or ``error`` naming what is missing or
    unknown (a typo in a column name cannot go unnoticed)."""
    names = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise error(f"{path.name}: header lacks column(s) {', '.join(missing)}")
    unknown = [c for c in names if c not in known]
    if unknown:
        raise error(f"{path.name}: unknown column(s) {', '.join(unknown)}")
    return names


def dict_reader(
    path: Path, required: Sequence[str], known: Sequence[str], error: type[ReturnBridgeError]
) -> csv.DictReader[str]:
    """The file's rows by lower-cased column name, once the text and the header passed."""
    reader = csv.DictReader(io.StringIO(read_text(path, error), newline=""))
    reader.fieldnames = checked_header(path, reader.fieldnames or [], required, known, error)
    return reader
