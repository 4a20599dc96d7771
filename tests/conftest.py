"""Shared fixtures: a clean environment, and databases on SQLite and on real PostgreSQL.

PostgreSQL tests use ``RETURNBRIDGE_TEST_POSTGRES_URL`` (default: postgres on 127.0.0.1:5432).
Where it cannot be reached they skip, unless ``RETURNBRIDGE_REQUIRE_POSTGRES=1`` (set by
``.ci/run``), which turns "PostgreSQL unavailable" into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

TEST_ENV = ("RETURNBRIDGE_TEST_POSTGRES_URL", "RETURNBRIDGE_REQUIRE_POSTGRES")
PG_URL = os.environ.get(
    "RETURNBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("RETURNBRIDGE_REQUIRE_POSTGRES") == "1"


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
