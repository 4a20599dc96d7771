"""Fixtures for the HTTP service: the real app served by uvicorn on loopback, over a real
database (SQLite, or PostgreSQL through ``db_url``), on a clock the test sets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from webhook_support import SECRET, Clock, Service, StartService

from returnbridge.bootstrap import bootstrap
from returnbridge.config import Settings
from returnbridge.entrypoints.http import start_service
from returnbridge.store.migrate import upgrade


@pytest.fixture
def start(sqlite_url: str) -> Iterator[StartService]:
    """Serve a fresh app; ``start(url=..., **settings)`` (default: SQLite and ``SECRET``)."""
    started: list[Service] = []

    def _start(url: str = sqlite_url, **settings: Any) -> Service:
        settings.setdefault("zigzag_webhook_secret", SECRET)
        clock = Clock()
        rb = bootstrap(Settings(database_url=url, **settings), clock=clock)
        upgrade(rb.engine)
        running = start_service(rb)
        service = Service(rb, running, httpx.Client(base_url=running.url, timeout=10), clock)
        started.append(service)
        return service

    yield _start
    for service in started:
        service.client.close()
        service.running.stop()
        service.rb.close()


@pytest.fixture
def service(start: StartService) -> Service:
    """The service on SQLite with one secret (``SECRET``)."""
    return start()


@pytest.fixture
def any_db_service(start: StartService, db_url: str) -> Service:
    """The service on SQLite, then on PostgreSQL."""
    return start(db_url)
