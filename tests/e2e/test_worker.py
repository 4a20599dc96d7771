"""The worker loop picks up events as they arrive and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS


def cli(*args: str, cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "returnbridge", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_the_worker_processes_new_events_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    cli("db", "upgrade", "--db", db, cwd=tmp_path)
    (tmp_path / "catalog.csv").write_text("sku,unit_cost,currency\nCAS-1,10.00,GBP\n")
    cli("catalog", "load", "catalog.csv", "--db", db, cwd=tmp_path)
    cli("mappings", "load", str(DEFAULT_MAPPINGS), "--db", db, cwd=tmp_path)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "returnbridge",
            "process",
            "--watch",
            "--interval",
            "0.1",
            "--db",
            db,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        export = tmp_path / "export.csv"
        export.write_text(
            "event_id,event_type,occurred_at,return_id,dc_warehouse,line_id,sku,quantity,grade\n"
            "e1,return.registered,2026-11-02T10:00:00Z,R1,UK-DC1,1,cas-1,1,\n"
            "e2,return.graded,2026-11-02T12:00:00Z,R1,UK-DC1,1,,1,A\n"
        )
        cli("import", "zigzag", "export.csv", "--db", db, cwd=tmp_path)
        deadline = time.monotonic() + 30
        stock = None
        while time.monotonic() < deadline:
            with sqlite3.connect(tmp_path / "rb.db") as conn:
                stock = conn.execute("SELECT sum(quantity) FROM stock_movements").fetchone()[0]
            if stock:
                break
            time.sleep(0.1)
        assert stock == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "2 events processed" in out
    with sqlite3.connect(tmp_path / "rb.db") as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM inbox GROUP BY status"))
    assert json.dumps(statuses) == json.dumps({"processed": 2})
