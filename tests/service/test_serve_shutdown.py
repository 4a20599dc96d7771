"""``returnbridge serve`` stopped by SIGTERM in the middle of a backlog: it exits 0 with every
event applied once or not at all, and ``returnbridge worker`` started afterwards finishes the
backlog to the same totals as an uninterrupted run, with every invariant ``reconcile --check``
verifies holding."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from returnbridge.bootstrap import bootstrap
from returnbridge.config import Settings
from returnbridge.connectors.zigzag.csv_export import read_export
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.zigzag.generator import generate_day, write_catalog, write_export
from returnbridge.services.pipeline import ingest_stream
from returnbridge.services.reconcile import check
from returnbridge.store.migrate import upgrade
from returnbridge.store.readmodels import SqlLedgerAudit, summary

pytestmark = pytest.mark.integration

RETURNS = 100
WAIT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backlog(folder: Path) -> str:
    """A database holding a day of ZigZag events imported and not yet processed."""
    day = generate_day(RETURNS, 11)
    write_catalog(day, folder / "catalog.csv")
    write_export(day, folder / "export.csv")
    url = f"sqlite:///{folder / 'rb.db'}"
    rb = bootstrap(Settings(database_url=url))
    try:
        upgrade(rb.engine)
        rb.load_catalog(folder / "catalog.csv")
        rb.load_mappings(DEFAULT_MAPPINGS)
        ingest_stream(rb.stores, read_export(folder / "export.csv"), rb.clock)
    finally:
        rb.close()
    return url


def inbox_statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall())


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in {WAIT:g} s"
        time.sleep(0.01)


def returnbridge(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "returnbridge", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, out, err


def figures(url: str) -> tuple[dict[str, Any], list[Any]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return summary(conn), check(SqlLedgerAudit(conn))
    finally:
        engine.dispose()


def test_sigterm_mid_backlog_stops_serve_cleanly_and_a_worker_finishes_the_same_totals(
    tmp_path: Path,
) -> None:
    url = backlog(tmp_path)
    db = tmp_path / "rb.db"
    total = inbox_statuses(db)["pending"]
    shutil.copyfile(db, tmp_path / "reference.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}

    # Small batches make many transactions: the stop lands between two of them.
    serving = returnbridge(
        *("serve", "--port", str(free_port()), "--db", url, "--interval", "0.1"),
        *("--no-cycles", "--no-erp", "--no-alerts"),
        cwd=tmp_path,
        env={**env, "RETURNBRIDGE_BATCH_SIZE": "5"},
    )
    wait_for(lambda: inbox_statuses(db).get("processed", 0) > 0, "the first batch")
    code, out, err = stop(serving)
    assert code == 0, err
    assert "stopped" in out
    halfway = inbox_statuses(db)
    assert halfway["processed"] + halfway["pending"] == total
    assert halfway["processed"] > 0 and halfway["pending"] > 0, halfway
    _, breaches = figures(url)
    assert breaches == []  # each processed event applied once, its postings complete

    working = returnbridge("worker", "--db", url, "--interval", "0.1", cwd=tmp_path, env=env)
    wait_for(lambda: inbox_statuses(db).get("pending", 0) == 0, "the rest of the backlog")
    code, out, err = stop(working)
    assert code == 0, err

    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    rb = bootstrap(Settings(database_url=reference))
    try:
        rb.processor.drain()
    finally:
        rb.close()
    finished, breaches = figures(url)
    assert breaches == []  # what `reconcile --check` verifies
    assert finished == figures(reference)[0]
