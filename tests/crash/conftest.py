"""Fixtures of the crash harness: a private PostgreSQL server (the harness restarts it, which
must not disturb the tests sharing the main server), fault-free runs kept for the session, and
the harness's figures shown in the run's output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from crash_harness import Options, Result, run_day
from private_postgres import PostgresUnavailable, PrivatePostgres

REQUIRE_PG = os.environ.get("RETURNBRIDGE_REQUIRE_POSTGRES") == "1"
SUMMARY = "crash harness"


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this session's own, torn down at its end; a skip where none can
    be started (a failure in CI, where RETURNBRIDGE_REQUIRE_POSTGRES=1)."""
    pg: PrivatePostgres | None = None
    try:
        pg = PrivatePostgres()
        pg.start()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
        if pg is not None:
            pg.stop()
        message = f"a private PostgreSQL server could not be started: {exc}"
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (RETURNBRIDGE_REQUIRE_POSTGRES=1) but {message}")
        pytest.skip(message)
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def fault_free(
    private_postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Options], Result]:
    """The fault-free run of a day (same seed and size, no kills, no restart, no faults), run
    once per session and options."""
    done: dict[Options, Result] = {}

    def run(options: Options) -> Result:
        clean = options.fault_free()
        if clean not in done:
            done[clean] = run_day(private_postgres, tmp_path_factory.mktemp("fault-free"), clean)
        return done[clean]

    return run


@pytest.fixture
def show(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> Callable[[str], None]:
    """Shows a line in the run's output even when pytest captures it and under xdist (whose
    controller never loads this conftest), and keeps it for the terminal summary."""

    def say(line: str) -> None:
        request.node.user_properties.append((SUMMARY, line))
        with capsys.disabled():
            sys.stderr.write(f"\n{line}\n")
            sys.stderr.flush()

    return say
