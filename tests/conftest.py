"""Shared fixtures: a clean environment, databases on SQLite and on real PostgreSQL, and one
demo run for the tests that read a realistic day (``demo_out``).

PostgreSQL tests use ``RETURNBRIDGE_TEST_POSTGRES_URL`` (default: postgres on 127.0.0.1:5432).
Where it cannot be reached they skip, unless ``RETURNBRIDGE_REQUIRE_POSTGRES=1`` (set by
``.ci/run``), which turns "PostgreSQL unavailable" into a failure.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TEST_ENV = ("RETURNBRIDGE_TEST_POSTGRES_URL", "RETURNBRIDGE_REQUIRE_POSTGRES")
PG_URL = os.environ.get(
    "RETURNBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("RETURNBRIDGE_REQUIRE_POSTGRES") == "1"
DEMO = ["demo", "--returns", "200", "--seed", "3", "--transport", "csv"]


@pytest.fixture(autouse=True)
def _scrub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own RETURNBRIDGE_* settings."""
    for name in list(os.environ):
        if name.startswith("RETURNBRIDGE_") and name not in TEST_ENV:
            monkeypatch.delenv(name)


def _postgres_admin_url() -> str:
    return make_url(PG_URL).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The admin URL of a reachable PostgreSQL, or a skip (a failure in CI)."""
    try:
        engine = create_engine(_postgres_admin_url())
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        if REQUIRE_PG:
            pytest.fail(
                f"PostgreSQL is required (RETURNBRIDGE_REQUIRE_POSTGRES=1) but unavailable: {exc}"
            )
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    return _postgres_admin_url()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"rb_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{tmp_path}/returnbridge.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The same test on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    request.applymarker(pytest.mark.postgres)
    return str(request.getfixturevalue("postgres_url"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under integration/ and sandbox/ (real servers, real databases) and e2e/ carry
    their marker, so `-m` can pick by reach."""
    for item in items:
        parts = item.path.parts
        if "integration" in parts or "sandbox" in parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


def _run_demo(out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "returnbridge", *DEMO, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (out / ".complete").touch()


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ``returnbridge demo --returns 200 --seed 3 --transport csv``.

    The demo takes several seconds, so it runs once per test run. Under pytest-xdist each worker
    is its own process with its own session: the first worker to get here runs the demo into the
    run's shared temporary folder while holding a lock, and the others wait and reuse its
    output. Tests only read it (anything they write goes to their own folder or a copy).
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # not under xdist: the only session
        out = tmp_path_factory.mktemp("demo") / "OUT"
        _run_demo(out)
        return out
    shared = tmp_path_factory.getbasetemp().parent  # one folder per run, shared by the workers
    out = shared / "shared-demo" / "OUT"
    with (shared / "shared-demo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / ".complete").exists():
            _run_demo(out)
    return out


CRASH_SUMMARY = "crash harness"  # the user property tests/crash/conftest.py's `show` sets


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The crash harness's figures (kills, restarts, faults) at the end of every run, under
    xdist too: workers send the user properties back to the controller, which loads only
    this conftest."""
    lines = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        for name, value in getattr(report, "user_properties", ())
        if name == CRASH_SUMMARY and getattr(report, "when", "call") == "call"
    ]
    if lines:
        terminalreporter.section(CRASH_SUMMARY)
        for line in lines:
            terminalreporter.write_line(line)
