"""`returnbridge import amazon` as a user runs it, in a subprocess, on SQLite."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from amazon_export_support import row, write

from returnbridge.connectors.amazon.vendor_exports import ExportKind
from returnbridge.sandboxes.amazon.exports import VendorExportFiles

pytestmark = pytest.mark.e2e


def rb(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "returnbridge", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},  # one line per message
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_importing_a_days_exports_stores_each_row_once_and_feeds_rfs_to_process(
    tmp_path: Path, day_files: VendorExportFiles
) -> None:
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    rb("db", "upgrade", "--db", db, cwd=tmp_path)
    refunds = rows_of(day_files.refunds)
    rfs = sum(1 for r in refunds if r["refund_type"] == "RFS")
    for kind, path in (
        ("return-requests", day_files.return_requests),
        ("refunds", day_files.refunds),
        ("remittance", day_files.remittance),
    ):
        done = rb("import", "amazon", "--kind", kind, str(path), "--db", db, cwd=tmp_path)
        count = len(rows_of(path))
        events = f" ({rfs} refunds at first scan to process)" if kind == "refunds" else ""
        assert done.stdout.splitlines()[0] == (
            f"{count} rows accepted{events}, 0 duplicates ignored, 0 unreadable, "
            "0 conflicting (kept as INVALID_EVENT exceptions)"
        )
        assert f"importing {path.name}" in done.stderr  # the progress bar
    again = rb(
        "import", "amazon", "--kind", "refunds", str(day_files.refunds), "--db", db, cwd=tmp_path
    )
    assert again.stdout.startswith(f"0 rows accepted, {len(refunds)} duplicates ignored, ")
    processed = rb("process", "--db", db, cwd=tmp_path)
    assert f"{rfs} events processed, 0 invalid, 0 failed" in processed.stdout


def test_bad_rows_are_listed_and_kept_as_exceptions_and_a_bad_header_refuses_the_file(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    rb("db", "upgrade", "--db", db, cwd=tmp_path)
    kind = ExportKind.REFUNDS
    path = write(
        tmp_path / "refunds.csv",
        [row(kind), row(kind, refund_id="r2", quantity="two"), row(kind, refund_id="r3")],
        kind=kind,
    )
    done = rb("import", "amazon", "--kind", "refunds", str(path), "--db", db, cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("2 rows accepted, 0 duplicates ignored, 1 unreadable, 0 conflicting")
    assert lines[1] == "  refused refunds.csv row 3, field 'quantity': 'two' is not a whole number"
    listed = rb("exceptions", "list", "--code", "INVALID_EVENT", "--db", db, cwd=tmp_path)
    assert "refunds.csv row 3" in listed.stdout

    header = [*row(kind), "notes"]
    bad = write(tmp_path / "notes.csv", [], header=header)
    refused = rb(
        "import", "amazon", "--kind", "refunds", str(bad), "--db", db, cwd=tmp_path, check=False
    )
    assert refused.returncode == 2
    assert "error [csv.unreadable] notes.csv: unknown column(s) notes" in refused.stderr

    unknown = rb(
        "import", "amazon", "--kind", "returns", str(path), "--db", db, cwd=tmp_path, check=False
    )
    assert unknown.returncode == 2 and "return-requests" in unknown.stderr
