"""Crash tests: SIGKILL of `cycle close` at each step of a clearing cycle, then a restart.

Amazon (the sandbox, in this process) starts holding the WMS's opening stock, and must end
holding exactly what the stock authority says (the snapshot plus the units restocked after its
as_of, per Amazon warehouse) and exactly the credit each return owes (no credit note applied
twice, none lost), whatever instant the worker died at: before sending, after Amazon applied a
request (stock or credit notes) but before the worker recorded it, or while it polled the
transaction status.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from replayed_stock import expected_stock, opening, replayed_day

from returnbridge.entrypoints.cli.demo_amazon import sandbox_env
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox

pytestmark = pytest.mark.crash
RUN = [sys.executable, "-m", "returnbridge"]
# Long enough for the test to see the step reached and kill the worker (it polls every 20 ms),
# short enough that the sandbox's held answer does not stall its shutdown for long.
HOLD = 6.0


def _env(amazon: RunningSandbox) -> dict[str, str]:
    return {**os.environ, **sandbox_env(amazon), "RETURNBRIDGE_AMAZON_ITEMS_PER_CALL": "40"}


def _prepared(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM amazon_submissions").fetchone()[0])


def _accepted(amazon: RunningSandbox, operation: str = "submitInventoryUpdate") -> int:
    """Submissions Amazon has taken (and applied): counted when handled, before the held
    answer leaves, so the worker is killed while it still waits for that answer."""
    transactions = list(amazon.sandbox.transactions.values())
    return sum(1 for t in transactions if t.operation_id == operation)


def _polled(amazon: RunningSandbox) -> int:
    return sum(t.status_reads for t in amazon.sandbox.transactions.values())


STEPS: dict[str, tuple[dict[str, object], Callable[[Path, RunningSandbox], bool]]] = {
    # Prepared and committed, then killed while waiting for a token: nothing reached Amazon.
    "before send": ({"hold_token_seconds": HOLD}, lambda db, amazon: _prepared(db) > 0),
    # Amazon applied the first request; the worker dies before recording its transaction id.
    "after send before record": (
        {"hold_response_seconds": HOLD},
        lambda db, amazon: _accepted(amazon) > 0,
    ),
    # Amazon took the credit notes; the worker dies before recording the transaction id, so
    # the restart sends the same numbers again.
    "credit notes after send before record": (
        {"hold_response_seconds": HOLD, "hold_operations": frozenset({"submitInvoices"})},
        lambda db, amazon: _accepted(amazon, "submitInvoices") > 0,
    ),
    # Every request recorded; killed while Amazon is answering a status poll.
    "during status polling": (
        {"hold_response_seconds": 0.0},
        lambda db, amazon: _polled(amazon) > 0,
    ),
}


@pytest.fixture(scope="module")
def processed_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A day processed but not yet sent to Amazon, with the WMS's opening snapshot imported
    (made once; each test works on a copy)."""
    return replayed_day(tmp_path_factory.mktemp("crash") / "day", returns=400, seed=3)


@pytest.mark.parametrize("step", list(STEPS))
def test_a_worker_killed_mid_cycle_restarts_and_amazon_ends_equal_to_snapshot_and_restocks(
    tmp_path: Path, step: str, processed_day: Path
) -> None:
    db_file = tmp_path / "returnbridge.db"
    shutil.copyfile(processed_day, db_file)  # the demo exited: its WAL is checkpointed
    db = f"sqlite:///{db_file}"
    knobs, reached = STEPS[step]
    held = opening(processed_day)
    base = SandboxConfig(seed=3, polls_until_final=3, opening_stock=held)
    with start_sandbox(replace(base, **knobs)) as amazon:  # type: ignore[arg-type]
        worker = subprocess.Popen(
            [*RUN, "cycle", "close", "--poll-seconds", "0.2", "--db", db],
            env=_env(amazon),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not reached(db_file, amazon):
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, f"never reached {step}"
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)
        assert worker.returncode == -signal.SIGKILL

        amazon.sandbox.reconfigure(base)  # Amazon answers promptly again
        restarted = subprocess.run(
            [*RUN, "cycle", "close", "--poll-seconds", "0.05", "--db", db],
            env=_env(amazon),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert restarted.returncode == 0, restarted.stderr
        stock = dict(amazon.sandbox.stock)
        if step == "credit notes after send before record":
            # The restart did send the same numbers again, and Amazon refused the copies.
            assert amazon.sandbox.duplicate_credit_notes > 0
        credited: dict[str, int] = {}
        for note in amazon.sandbox.credit_notes.values():
            reference = note["items"][0]["creditNoteDetails"]["returnsReferenceNumber"]
            amount = Decimal(note["invoiceTotal"]["amount"]) * 100
            credited[reference] = credited.get(reference, 0) + int(amount)
    expected = expected_stock(db_file)
    with sqlite3.connect(db_file) as conn:
        unsynced = conn.execute(
            "SELECT count(*) FROM outbox WHERE topic LIKE 'amazon.%' "
            "AND status NOT IN ('sent', 'netted')"
        ).fetchone()[0]
        owed: dict[str, int] = {}
        for (payload,) in conn.execute(
            "SELECT payload FROM outbox WHERE topic = 'amazon.credit_note'"
        ):
            credit = json.loads(payload)
            reference = credit["returns_reference"]
            amount = credit["quantity"] * credit["unit_amount"]
            owed[reference] = owed.get(reference, 0) + amount
    assert stock == expected  # every position Amazon holds, under Amazon's warehouse ids only
    restocked = sum(expected.values()) - sum(units for _, _, units in held)
    assert restocked > 0  # the restocks after the snapshot were sent, on top of it
    # No credit note applied twice, none lost: Amazon holds exactly what each return owes.
    assert len(owed) > 100 and credited == owed
    assert unsynced == 0
    check = subprocess.run(
        [*RUN, "reconcile", "--check", "--db", db], capture_output=True, timeout=120
    )
    assert check.returncode == 0
