"""``ErpFileWriter``: a batch's file pair, ``<batch>.csv`` and ``<batch>.jsonl``.

Each file is written under a temporary name, flushed to disk and renamed over its final name,
so a reader never sees half a file; the content depends on the batch alone, so writing a batch
again gives byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from returnbridge.services.erp_export import COLUMNS, ErpBatch


def _csv_value(value: Any) -> str:
    return "" if value is None else str(value)


def render_csv(batch: ErpBatch) -> bytes:
    """UTF-8, a header of ``COLUMNS``, one row per journal line, CRLF (RFC 4180)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in batch.rows:
        writer.writerow([_csv_value(row[column]) for column in COLUMNS])
    return buffer.getvalue().encode("utf-8")


def render_jsonl(batch: ErpBatch) -> bytes:
    """UTF-8, one JSON object per journal line with every column (null where empty)."""
    lines = [
        json.dumps({column: row[column] for column in COLUMNS}, ensure_ascii=False) + "\n"
        for row in batch.rows
    ]
    return "".join(lines).encode("utf-8")


def _replace(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class ErpFileWriter:
    """Implements ``services.erp_export.BatchWriter`` over a folder."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def write(self, batch: ErpBatch) -> list[str]:
        self.out.mkdir(parents=True, exist_ok=True)
        names = [f"{batch.key}.csv", f"{batch.key}.jsonl"]
        _replace(self.out / names[0], render_csv(batch))
        _replace(self.out / names[1], render_jsonl(batch))
        if hasattr(os, "O_DIRECTORY"):  # make the renames durable too (POSIX)
            folder = os.open(self.out, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        return names


__all__ = ["ErpFileWriter", "render_csv", "render_jsonl"]
