"""Bad input stops the audit with a clear error naming the file and a non-zero exit, never a
traceback, and leaves no database behind."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from audit_support import audit_args, cli
from typer.testing import CliRunner

from returnbridge.entrypoints.cli.audit import AuditInputs, run_audit_files
from returnbridge.masterdata.ledger_csv import LedgerFileError, read_ledger
from returnbridge.sandboxes.history import generate_history, write_history
from returnbridge.services.audit import AuditRefused


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small-history")
    write_history(generate_history(50, 5), folder)
    return folder


def run(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    """The installed command line, as a user runs it, with its temporary files under ``tmp``."""
    return subprocess.run(
        [sys.executable, "-m", "returnbridge", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "", "TMPDIR": str(tmp), "COLUMNS": "200"},
        check=False,
    )


def test_a_missing_file_is_named_with_a_usage_error(history: Path, tmp_path: Path) -> None:
    args = audit_args(history, tmp_path / "out")
    args[args.index("--remittance") + 1] = str(history / "no-such-remittance.csv")
    done = CliRunner().invoke(cli(), args, env={"COLUMNS": "400"})
    assert done.exit_code == 2
    assert "no-such-remittance.csv" in done.output and "does not exist" in done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)


def test_a_refused_csv_stops_the_audit_naming_the_file_and_leaves_nothing(
    history: Path, tmp_path: Path
) -> None:
    work = tmp_path / "tmp"
    work.mkdir()
    broken = tmp_path / "refunds.csv"
    broken.write_text("refund_id,refund_kind\nx,y\n", encoding="utf-8")
    args = audit_args(history, tmp_path / "out")
    args[args.index("--amazon-refunds") + 1] = str(broken)
    done = run(args, work)
    assert done.returncode == 2
    assert "error [csv.unreadable] refunds.csv: header lacks column(s)" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert list(work.iterdir()) == []  # the throw-away database went with the temporary folder
    assert not (tmp_path / "out" / "audit.html").exists()


def test_an_as_of_date_before_the_files_end_is_refused(history: Path, tmp_path: Path) -> None:
    inputs = AuditInputs(
        history / "zigzag-export.csv",
        history / "amazon-return-requests.csv",
        history / "amazon-refunds.csv",
        history / "amazon-remittance.csv",
        history / "catalog.csv",
    )
    with pytest.raises(AuditRefused, match=r"--as-of 2026-09-01 is before the latest date"):
        run_audit_files(inputs, tmp_path / "out", as_of=datetime(2026, 9, 1))
    assert not (tmp_path / "out" / "audit.html").exists()


def test_a_ledger_with_a_bad_row_is_refused_whole_naming_row_and_field(tmp_path: Path) -> None:
    ledger = tmp_path / "gl.csv"
    ledger.write_text(
        "journal_id,posted_on,account,debit,credit,currency,reference\n"
        "GL-1,2026-09-01,5410,12.50,0,GBP,ZZR-1\n"
        "GL-1,01/09/2026,1390,0,12.505,GB,ZZR-1\n",
        encoding="utf-8",
    )
    with pytest.raises(LedgerFileError) as refused:
        read_ledger(ledger)
    message = refused.value.message
    assert "gl.csv row 3, field 'credit'" in message
    assert "gl.csv row 3, field 'posted_on'" in message
    assert "gl.csv row 3, field 'currency'" in message
    ledger.write_text("journal_id,posted_on,account,debit,credit,currency,memo\n", encoding="utf-8")
    with pytest.raises(LedgerFileError, match="unknown column"):
        read_ledger(ledger)


def test_a_good_ledger_reads_every_line_in_minor_units(tmp_path: Path) -> None:
    ledger = tmp_path / "gl.csv"
    ledger.write_text(
        "\ufeffJournal_ID,Posted_On,Account,Debit,Credit,Currency,Description\n"
        "GL-1,2026-09-01T23:30:00-02:00,5410,12.5,,gbp,write-down ZZR-1\n",
        encoding="utf-8",
    )
    (only,) = read_ledger(ledger)
    assert (only.debit, only.credit, only.currency) == (1250, 0, "GBP")
    assert only.posted_on.isoformat() == "2026-09-02"  # read in UTC
    assert only.description == "write-down ZZR-1" and only.reference == ""
