"""The crash harness (issue 7): the demo day survives SIGKILLed workers, a PostgreSQL restart
and failing partners, and ends where a fault-free run of the same seed ends; moved outside its
transaction, the outbox write is caught."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from crash_harness import Options, Result, run_day
from crash_state import differences
from private_postgres import PrivatePostgres

pytestmark = [pytest.mark.crash, pytest.mark.postgres]

# Batches of one event and its one follower: small enough that the 50 kills land while work is
# pending, however fast the workers apply the day.
DAY = Options(seed=3, returns=300, kills=50, batch_size=1)
# Smaller and shorter: every kill that lands between a commit and its late outbox write loses
# messages, and with 15 kills into workers that spend most of their time in that window, the
# chance that none lands there is negligible.
SABOTAGED = Options(seed=5, returns=100, chunks=20, kills=15, cycle_kills=1, sabotage=True)


@pytest.mark.timeout(240)
def test_the_day_survives_kills_a_postgres_restart_and_partner_faults_unchanged(
    private_postgres: PrivatePostgres,
    fault_free: Callable[[Options], Result],
    tmp_path: Path,
    show: Callable[[str], None],
) -> None:
    expected = fault_free(DAY)
    assert expected.reconcile_ok, expected.reconcile_output
    assert not expected.incomplete, expected.incomplete

    got = run_day(private_postgres, tmp_path / "crash", DAY)
    diff = differences(expected.state, got.state)
    show(got.summary("final state equal" if not diff else f"{len(diff)} section(s) differ"))

    assert got.reconcile_ok, got.reconcile_output
    assert not got.incomplete, got.incomplete
    assert got.kills_with_work >= DAY.kills
    assert got.postgres_restarts == 1
    assert got.partner_faults > 0 and got.cycle_kills > 0
    assert not diff, "the final state differs from the fault-free run:\n" + "\n".join(diff)


@pytest.mark.timeout(240)
def test_the_harness_catches_an_outbox_write_moved_outside_the_transaction(
    private_postgres: PrivatePostgres,
    fault_free: Callable[[Options], Result],
    tmp_path: Path,
    show: Callable[[str], None],
) -> None:
    expected = fault_free(SABOTAGED)
    got = run_day(private_postgres, tmp_path / "sabotaged", SABOTAGED)
    diff = differences(expected.state, got.state)
    show(
        "sabotaged (outbox written after the commit): "
        + got.summary(f"{len(diff)} section(s) differ" if diff else "final state equal")
    )

    assert got.sabotage_installed, "the sabotage was not installed: see the run's zygote.log"
    assert got.kills_with_work >= SABOTAGED.kills
    assert not got.reconcile_ok or diff, "the harness missed outbox messages written late"
    assert "OUTBOX_COMPLETE" in got.reconcile_output or any(d.startswith("outbox") for d in diff)
