"""Fixtures for the alert tests: apps on SQLite and PostgreSQL (the catalog and mappings of
tests/integration), and a chat webhook stand-in served over real HTTP on loopback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from alerts_support import HOOK_PATH, MakeApp, Receiver, serve_receiver
from pipeline_support import CATALOG, Clock

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.store.migrate import upgrade
from returnbridge.threaded_server import ThreadedServer


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[MakeApp]:
    """Apps on fresh databases with the small catalog and the shipped mappings."""
    apps: list[App] = []

    def make(url: str, clock: Callable[[], datetime] | None = None, **settings: Any) -> App:
        rb = bootstrap(Settings(database_url=url, **settings), clock=clock or Clock())
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


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[tuple[Receiver, ThreadedServer]]:
    receiver = Receiver()
    server = serve_receiver(receiver)
    yield receiver, server
    server.stop()


@pytest.fixture
def receiver(receiver_server: tuple[Receiver, ThreadedServer]) -> Receiver:
    """The session's webhook stand-in, emptied for this test."""
    receiver_server[0].reset()
    return receiver_server[0]


@pytest.fixture
def hook_url(receiver_server: tuple[Receiver, ThreadedServer]) -> str:
    return f"{receiver_server[1].url}{HOOK_PATH}"
