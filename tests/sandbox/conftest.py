"""Fixtures for the Amazon sandbox tests: one sandbox served over real HTTP on loopback.

Starting and stopping uvicorn costs ~0.3 s, so the session shares one server and every test
resets it to the config it asks for (``start(**knobs)``): same HTTP path, a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from amazon_sandbox_support import Connect, StartSandbox, Vendor

from returnbridge.sandboxes.amazon import ManualClock, RunningSandbox, SandboxConfig, start_sandbox


@pytest.fixture(scope="session")
def clock() -> ManualClock:
    """Frozen time: buckets do not refill and tokens do not expire unless a test says so."""
    return ManualClock()


@pytest.fixture(scope="session")
def server(clock: ManualClock) -> Iterator[RunningSandbox]:
    """The session's sandbox server, on the frozen clock."""
    with start_sandbox(SandboxConfig(), clock=clock) as running:
        yield running


@pytest.fixture
def start(server: RunningSandbox) -> StartSandbox:
    """Reset the sandbox to a ``SandboxConfig`` with the given knobs and return it."""

    def _start(**knobs: Any) -> RunningSandbox:
        server.sandbox.reset(SandboxConfig(**knobs))
        return server

    return _start


@pytest.fixture
def connect() -> Iterator[Connect]:
    """A raw-HTTP vendor client for a running sandbox; closed at teardown."""
    vendors: list[Vendor] = []

    def _connect(running: RunningSandbox) -> Vendor:
        vendor = Vendor(running)
        vendors.append(vendor)
        return vendor

    yield _connect
    for vendor in vendors:
        vendor.close()


@pytest.fixture
def amazon(start: StartSandbox) -> RunningSandbox:
    """The sandbox, reset to the default config."""
    return start()


@pytest.fixture
def vendor(amazon: RunningSandbox, connect: Connect) -> Vendor:
    """A vendor connected to ``amazon``."""
    return connect(amazon)
