"""`returnbridge cycle close` against the sandbox, configured by environment only."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from returnbridge.entrypoints.cli.demo_amazon import sandbox_env
from returnbridge.sandboxes.amazon.config import (
    DEFAULT_CLIENT_SECRET,
    SandboxConfig,
)
from returnbridge.sandboxes.amazon.server import start_sandbox


def test_cycle_close_brings_amazons_stock_to_the_ledger(tmp_path: Path) -> None:
    out = tmp_path / "day"
    run = [sys.executable, "-m", "returnbridge"]
    subprocess.run(
        [*run, "demo", "--returns", "300", "--no-amazon", "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    db = f"sqlite:///{out / 'returnbridge.db'}"
    with start_sandbox(SandboxConfig(seed=9).with_faults(0.2)) as amazon:
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
    with sqlite3.connect(out / "returnbridge.db") as conn:
        ledger = {
            (w, s): q
            for w, s, q in conn.execute(
                "SELECT warehouse, sku, sum(quantity) FROM stock_movements GROUP BY 1, 2"
            )
        }
        synced = {
            (w, s): q
            for w, s, q in conn.execute("SELECT warehouse, sku, quantity FROM amazon_positions")
        }
    assert stock == ledger == synced
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
