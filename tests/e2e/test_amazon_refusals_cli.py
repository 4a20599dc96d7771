"""`returnbridge cycle close` when Amazon refuses the credentials: one line on stderr that names
the setting to check (never a traceback, never a secret), exit 2, and nothing lost: the same
close with the right credentials then sends everything. `worker --cycles` logs each refused
cycle as one line with its code and keeps running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from replayed_stock import RUN, expected_stock, opening, replayed_day

from returnbridge.entrypoints.cli.demo_amazon import sandbox_env
from returnbridge.sandboxes.amazon.catalog import (
    DF_STATUS,
    RETAIL_STATUS,
    SUBMIT_INVENTORY,
    SUBMIT_INVOICES,
)
from returnbridge.sandboxes.amazon.config import (
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    SandboxConfig,
)
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox

pytestmark = pytest.mark.e2e

WRONG_SECRET = "amzn1.oa2-cs.v1.wrong-secret-4f1d9c"
STALE_REFRESH_TOKEN = "Atzr|IwEBIstale-refresh-token-8e2b7a"
EVERY_OPERATION = frozenset({SUBMIT_INVENTORY, SUBMIT_INVOICES, DF_STATUS, RETAIL_STATUS})


@dataclass(frozen=True)
class Refusal:
    code: str
    settings: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    unauthorized_operations: frozenset[str] = frozenset()


REFUSALS = {
    "wrong client secret": Refusal(
        "amazon.client_refused",
        ("RETURNBRIDGE_AMAZON_CLIENT_ID", "RETURNBRIDGE_AMAZON_CLIENT_SECRET"),
        env=(("RETURNBRIDGE_AMAZON_CLIENT_SECRET", WRONG_SECRET),),
    ),
    "refresh token revoked": Refusal(
        "amazon.grant_refused",
        ("RETURNBRIDGE_AMAZON_REFRESH_TOKEN",),
        env=(("RETURNBRIDGE_AMAZON_REFRESH_TOKEN", STALE_REFRESH_TOKEN),),
    ),
    "role not granted": Refusal(
        "amazon.access_denied",
        (
            "RETURNBRIDGE_AMAZON_SELLING_PARTY",
            "RETURNBRIDGE_AMAZON_REGION",
            "RETURNBRIDGE_AMAZON_ENDPOINT",
        ),
        unauthorized_operations=EVERY_OPERATION,
    ),
}


@pytest.fixture(scope="module")
def demo_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A processed demo day with stock changes and credit notes for Amazon, none sent yet."""
    return replayed_day(tmp_path_factory.mktemp("day"), returns=50)


def close(
    amazon: RunningSandbox, db_file: Path, **overrides: str
) -> subprocess.CompletedProcess[str]:
    """`cycle close` configured by environment only, as an operator runs it."""
    env = {**os.environ, **sandbox_env(amazon), **overrides}
    return subprocess.run(
        [*RUN, "cycle", "close", "--poll-seconds", "0", "--db", f"sqlite:///{db_file}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def submissions(db_file: Path) -> dict[str, int]:
    with sqlite3.connect(db_file) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM amazon_submissions GROUP BY status"))


def waiting_for_amazon(db_file: Path) -> int:
    with sqlite3.connect(db_file) as conn:
        return int(
            conn.execute(
                "SELECT count(*) FROM outbox WHERE topic LIKE 'amazon.%' AND status != 'sent'"
            ).fetchone()[0]
        )


@pytest.mark.parametrize("refusal", list(REFUSALS.values()), ids=list(REFUSALS))
def test_a_refusal_is_one_line_naming_the_setting_and_the_next_close_sends_everything(
    demo_day: Path, tmp_path: Path, refusal: Refusal
) -> None:
    db_file = tmp_path / "returnbridge.db"
    shutil.copy(demo_day, db_file)
    config = SandboxConfig(
        seed=2,
        opening_stock=opening(demo_day),
        unauthorized_operations=refusal.unauthorized_operations,
    )
    with start_sandbox(config) as amazon:
        refused = close(amazon, db_file, **dict(refusal.env))
        stock_after_refusal = dict(amazon.sandbox.stock)
        credit_notes_after_refusal = len(amazon.sandbox.credit_notes)
        prepared = submissions(db_file)

        amazon.sandbox.reconfigure(replace(config, unauthorized_operations=frozenset()))
        sent = close(amazon, db_file)
        stock = dict(amazon.sandbox.stock)
        credit_notes = len(amazon.sandbox.credit_notes)

    said = refused.stdout + refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 2, said
    assert len(lines) == 1 and lines[0].startswith(f"error [{refusal.code}] "), said
    assert all(setting in lines[0] for setting in refusal.settings), said
    assert "Traceback" not in said
    for secret in (WRONG_SECRET, STALE_REFRESH_TOKEN, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN):
        assert secret not in said
    # Nothing reached Amazon, and everything waits, prepared, for the next run.
    assert stock_after_refusal == {(w, sku): n for w, sku, n in config.opening_stock}
    assert credit_notes_after_refusal == 0
    assert set(prepared) == {"prepared"} and prepared["prepared"] > 0

    assert sent.returncode == 0, sent.stderr
    assert "0 not sent" in sent.stdout and "0 still processing" in sent.stdout
    assert submissions(db_file) == {"success": prepared["prepared"]}
    assert waiting_for_amazon(db_file) == 0
    assert stock == expected_stock(db_file)
    assert credit_notes > 0


def test_the_worker_logs_a_refusal_as_one_line_with_its_code_and_keeps_running(
    demo_day: Path, tmp_path: Path
) -> None:
    db_file = tmp_path / "returnbridge.db"
    shutil.copy(demo_day, db_file)
    config = SandboxConfig(seed=2, opening_stock=opening(demo_day))
    with start_sandbox(config) as amazon:
        env = {
            **os.environ,
            **sandbox_env(amazon),
            "RETURNBRIDGE_AMAZON_CLIENT_SECRET": WRONG_SECRET,
            "RETURNBRIDGE_AMAZON_CYCLE_SCHEDULE": "every 1s",
            "RETURNBRIDGE_LOG_FORMAT": "json",
        }
        worker = subprocess.Popen(
            [*RUN, "worker", "--cycles", "--interval", "0.2", "--db", f"sqlite:///{db_file}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # Refused twice (a cycle and the one after the loop's restart), still running...
            wait_for(lambda: amazon.sandbox.token_requests >= 4, "two refused cycles")
            assert worker.poll() is None
            # ...until the app's secret at Amazon is the one configured: the next cycle sends.
            amazon.sandbox.reconfigure(replace(config, client_secret=WRONG_SECRET))
            wait_for(lambda: set(submissions(db_file)) == {"success"}, "the cycle after the fix")
            assert worker.poll() is None
        finally:
            worker.send_signal(signal.SIGTERM)
            stdout, stderr = worker.communicate(timeout=60)
        stock = dict(amazon.sandbox.stock)

    assert worker.returncode == 0, stderr
    said = stdout + stderr
    assert "Traceback" not in said and WRONG_SECRET not in said
    logged = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    failed = [entry for entry in logged if entry["event"] == "loop_failed"]
    assert len(failed) >= 2
    for entry in failed:
        assert entry["loop"] == "cycles" and entry["code"] == "amazon.client_refused"
        assert "RETURNBRIDGE_AMAZON_CLIENT_SECRET" in entry["error"]
        assert "exception" not in entry and "exc_info" not in entry
    assert waiting_for_amazon(db_file) == 0
    assert stock == expected_stock(db_file)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds:g} s"
        time.sleep(0.1)
