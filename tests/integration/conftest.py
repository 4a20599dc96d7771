"""Fixtures for tests that run the real pipeline against a real database."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pipeline_support import CATALOG, Clock

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.connectors.amazon.limits import RetryPolicy
from returnbridge.connectors.amazon.spapi import SpApiVendor
from returnbridge.entrypoints.cli.demo_amazon import sandbox_vendor
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.store.migrate import upgrade


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Callable[[str], App]]:
    apps: list[App] = []

    def make(url: str) -> App:
        rb = bootstrap(Settings(database_url=url), clock=Clock())
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
def rb(app_factory: Callable[[str], App], db_url: str) -> App:
    """The pipeline on a fresh database with a small catalog and the shipped mappings."""
    return app_factory(db_url)


@pytest.fixture
def amazon() -> Iterator[RunningSandbox]:
    """The Amazon SP-API sandbox over real HTTP on loopback, one status read to the outcome."""
    with start_sandbox(SandboxConfig(seed=2, polls_until_final=1)) as running:
        yield running


@pytest.fixture
def vendor(amazon: RunningSandbox) -> Iterator[SpApiVendor]:
    """The SP-API connector on ``amazon``, retrying quickly."""
    client = sandbox_vendor(
        amazon,
        retry=RetryPolicy(attempts=12, base_seconds=0.01, cap_seconds=0.1),
        rng=random.Random(4),
    )
    yield client
    client.close()
