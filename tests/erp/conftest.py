"""Fixtures for the ERP export: the pipeline on SQLite and PostgreSQL (the helpers of
tests/integration), and the ERP stand-in served over real HTTP on loopback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from pipeline_support import CATALOG, Clock

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.erp import ErpSandbox, RunningErpSandbox, start_erp_sandbox
from returnbridge.store.migrate import upgrade

MakeApp = Callable[..., App]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """Apps on fresh databases with the small catalog and the shipped mappings."""
    apps: list[App] = []

    def make(url: str, **settings: object) -> App:
        rb = bootstrap(Settings(database_url=url, **settings), clock=Clock())  # type: ignore[arg-type]
        upgrade(rb.engine)
        catalog = tmp_path / "catalog.csv"
        catalog.write_text(CATALOG, encoding="utf-8")
        rb.load_catalog(catalog)
        rb.load_mappings(DEFAULT_MAPPINGS)
        apps.append(rb)
        return rb

    yield make
    for rb in apps:
        rb.close()


@pytest.fixture
def rb(make_app: MakeApp, db_url: str) -> App:
    return make_app(db_url)


@pytest.fixture(scope="session")
def erp_server() -> Iterator[RunningErpSandbox]:
    with start_erp_sandbox() as running:
        yield running


@pytest.fixture
def erp(erp_server: RunningErpSandbox) -> ErpSandbox:
    """The session's ERP stand-in, emptied for this test."""
    sandbox = erp_server.sandbox
    with sandbox.lock:
        sandbox.accepted.clear()
        sandbox.requests.clear()
        sandbox.fail_next.clear()
        sandbox.token = ""
    return sandbox
