"""Fixtures for the ZigZag feeds: one sandbox served over real HTTP, databases, feed clients.

Starting uvicorn costs a little, so the session shares one server and each test resets it to
the config it asks for (``zigzag(**knobs)``), on a clock the test can move.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from zigzag_support import MakeApp, MakeClient, StartZigZag

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.connectors.zigzag.polling import ZigZagApiConfig, ZigZagFeedClient
from returnbridge.sandboxes.zigzag import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    ManualClock,
    RunningSandbox,
    ZigZagSandboxConfig,
    start_sandbox,
)
from returnbridge.store.migrate import upgrade


@pytest.fixture(scope="session")
def sandbox_clock() -> ManualClock:
    """The sandbox's clock: starts at the real time and moves only when a test says so."""
    return ManualClock()


@pytest.fixture(scope="session")
def zigzag_server(sandbox_clock: ManualClock) -> Iterator[RunningSandbox]:
    with start_sandbox(ZigZagSandboxConfig(clock=sandbox_clock)) as running:
        yield running


@pytest.fixture
def zigzag(zigzag_server: RunningSandbox, sandbox_clock: ManualClock) -> StartZigZag:
    """Reset the session's sandbox to a config with the given knobs, and return it."""

    def _start(**knobs: Any) -> RunningSandbox:
        zigzag_server.sandbox.reset(ZigZagSandboxConfig(clock=sandbox_clock, **knobs))
        return zigzag_server

    return _start


@pytest.fixture
def feed_client() -> Iterator[MakeClient]:
    """A polling client for a running sandbox (no real sleeps); closed at teardown."""
    opened: list[httpx.Client] = []

    def _client(running: RunningSandbox, **options: Any) -> ZigZagFeedClient:
        clock = options.pop("clock", None)
        sleep = options.pop("sleep", lambda _s: None)
        config = ZigZagApiConfig(
            base_url=running.url,
            username=options.pop("username", DEFAULT_USERNAME),
            password=options.pop("password", DEFAULT_PASSWORD),
            **options,
        )
        http = httpx.Client()
        opened.append(http)
        extra: dict[str, Any] = {"sleep": sleep}
        if clock is not None:
            extra["clock"] = clock
        return ZigZagFeedClient(config, http, **extra)

    yield _client
    for http in opened:
        http.close()


@pytest.fixture
def app_factory() -> Iterator[MakeApp]:
    """An app on a fresh, upgraded database; closed at teardown."""
    apps: list[App] = []

    def make(url: str) -> App:
        rb = bootstrap(Settings(database_url=url))
        upgrade(rb.engine)
        apps.append(rb)
        return rb

    yield make
    for rb in apps:
        rb.close()
