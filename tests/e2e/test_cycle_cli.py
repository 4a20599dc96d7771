"""`returnbridge cycle close` and `cycle watch` against the sandbox, configured by environment
only."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from replayed_stock import RUN, expected_stock, opening, replayed_day

from returnbridge.entrypoints.cli.demo_amazon import sandbox_env
from returnbridge.sandboxes.amazon.config import (
    DEFAULT_CLIENT_SECRET,
    SandboxConfig,
)
from returnbridge.sandboxes.amazon.server import start_sandbox


def test_cycle_close_brings_amazons_stock_to_the_snapshot_plus_the_restocks_since(
    tmp_path: Path,
) -> None:
    db_file = replayed_day(tmp_path / "day", returns=300)
    db = f"sqlite:///{db_file}"
    run = RUN
    config = SandboxConfig(seed=9, opening_stock=opening(db_file))
    with start_sandbox(config.with_faults(0.2)) as amazon:
        env = {**os.environ, **sandbox_env(amazon)}
        closed = subprocess.run(
            [*run, "cycle", "close", "--poll-seconds", "0", "--db", db],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert closed.returncode == 0, closed.stderr
        stock = dict(amazon.sandbox.stock)
    assert "confirmed" in closed.stdout and "0 still processing" in closed.stdout
    with sqlite3.connect(db_file) as conn:
        synced = {
            (w, s): q
            for w, s, q in conn.execute("SELECT warehouse, sku, quantity FROM amazon_positions")
        }
    assert stock == expected_stock(db_file) == synced
    assert DEFAULT_CLIENT_SECRET not in closed.stdout + closed.stderr


def test_cycle_close_without_credentials_says_which_settings_are_missing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    run = [sys.executable, "-m", "returnbridge"]
    subprocess.run([*run, "db", "upgrade", "--db", db], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_AMAZON")}
    result = subprocess.run(
        [*run, "cycle", "close", "--db", db], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "RETURNBRIDGE_AMAZON_CLIENT_ID" in result.stderr


def test_cycle_watch_closes_a_cycle_at_each_cut_off_and_stops_cleanly(tmp_path: Path) -> None:
    db_file = replayed_day(tmp_path / "day", returns=200)
    run = RUN
    with start_sandbox(SandboxConfig(seed=4, opening_stock=opening(db_file))) as amazon:
        env = {**os.environ, **sandbox_env(amazon)}
        watcher = subprocess.Popen(
            [
                *run,
                "cycle",
                "watch",
                "--schedule",
                "every 2s",
                "--poll-seconds",
                "0.1",
                "--db",
                f"sqlite:///{db_file}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _cycles(db_file) < 1:
                time.sleep(0.1)
            # A cut-off later, the WMS's next snapshot changes one position: it goes on its own.
            warehouse, sku, units = opening(db_file)[0]
            later = tmp_path / "later.csv"
            later.write_text(
                f"warehouse,sku,available,as_of\n{warehouse},{sku},{units + 7},"
                "2026-11-03T01:00:00Z\n",
                encoding="utf-8",
            )
            subprocess.run(
                [*run, "import", "stock", str(later), "--db", f"sqlite:///{db_file}"],
                check=True,
                capture_output=True,
            )
            while time.monotonic() < deadline and _cycles(db_file) < 2:
                time.sleep(0.1)
        finally:
            watcher.send_signal(signal.SIGTERM)
            stdout, stderr = watcher.communicate(timeout=60)
        stock = dict(amazon.sandbox.stock)
    assert watcher.returncode == 0, stderr
    assert "clearing cycles at every 2s" in stdout and "stopped after" in stdout
    assert _cycles(db_file) == 2
    with sqlite3.connect(db_file) as conn:
        open_cycles = conn.execute(
            "SELECT count(*) FROM clearing_cycles WHERE closed_at IS NULL"
        ).fetchone()[0]
    assert stock == expected_stock(db_file) and open_cycles == 0


def test_cycle_watch_refuses_a_schedule_it_cannot_read(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "returnbridge"]
    db = f"sqlite:///{tmp_path / 'rb.db'}"
    refused = subprocess.run(
        [*run, "cycle", "watch", "--schedule", "every 7m", "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    said = " ".join(refused.stderr.replace("│", " ").split())  # the panel wraps the text
    assert "divide a day evenly" in said


def _cycles(db_file: Path) -> int:
    with sqlite3.connect(db_file) as conn:
        return int(conn.execute("SELECT count(*) FROM clearing_cycles").fetchone()[0])


def test_cycle_close_raises_an_alert_with_its_runbook_when_amazon_rejects(tmp_path: Path) -> None:
    out = tmp_path / "day"
    db_file = replayed_day(out, returns=100)
    run = RUN
    with start_sandbox(
        SandboxConfig(seed=9, reject_rate=0.3, opening_stock=opening(db_file))
    ) as amazon:
        env = {**os.environ, **sandbox_env(amazon), "RETURNBRIDGE_LOG_FORMAT": "json"}
        closed = subprocess.run(
            [
                *run,
                "cycle",
                "close",
                "--poll-seconds",
                "0",
                "--db",
                f"sqlite:///{out / 'returnbridge.db'}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert closed.returncode == 0, closed.stderr
    alerts = [
        json.loads(line)
        for line in closed.stdout.splitlines()
        if line.startswith("{") and '"alert"' in line
    ]
    (rejected,) = [a for a in alerts if a["alert"] == "AMAZON_REJECTED"]
    assert rejected["runbook"] == "docs/operations.md#amazon_rejected"
    assert rejected["level"] == "warning" and "item(s)" in rejected["summary"]


def test_a_dry_run_prints_what_would_go_and_sends_numbers_and_stores_nothing(
    tmp_path: Path,
) -> None:
    db_file = replayed_day(tmp_path / "day", returns=100)
    db = f"sqlite:///{db_file}"

    def counts() -> tuple[int, ...]:
        with sqlite3.connect(db_file) as conn:
            return tuple(
                conn.execute(query).fetchone()[0]
                for query in (
                    "SELECT count(*) FROM amazon_submissions",
                    "SELECT count(*) FROM credit_notes",
                    "SELECT count(*) FROM clearing_cycles",
                    "SELECT count(*) FROM outbox WHERE status = 'pending'",
                    "SELECT count(*) FROM exceptions",
                )
            )

    before = counts()
    with start_sandbox(SandboxConfig(seed=4, opening_stock=opening(db_file))) as amazon:
        env = {**os.environ, **sandbox_env(amazon), "COLUMNS": "200"}
        dry = subprocess.run(
            [*RUN, "cycle", "close", "--dry-run", "--db", db],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert dry.returncode == 0, dry.stderr
        state = amazon.sandbox.snapshot()
        asked = sum(c["requests"] for c in state["counters"].values())
        assert (asked, state["token_requests"]) == (0, 0)  # Amazon was not asked anything
        assert counts() == before
        said = " ".join(dry.stdout.split())
        assert "nothing was sent or stored" in said
        assert "stock at Amazon warehouse CASTUK-LHR:" in said
        (notes,) = re.findall(r"credit notes: (\d+) \((RBCN-\d+) to (RBCN-\d+)\)", said)
        real = subprocess.run(
            [*RUN, "cycle", "close", "--poll-seconds", "0", "--db", db],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert real.returncode == 0, real.stderr
    with sqlite3.connect(db_file) as conn:
        numbers = [n for (n,) in conn.execute("SELECT number FROM credit_notes ORDER BY number")]
    assert (str(len(numbers)), numbers[0], numbers[-1]) == notes  # the dry run told the truth
