"""Run the sandbox over real HTTP: in a background thread (tests, demo) or in the foreground (CLI).

Loopback only: the sandbox accepts published credentials, so it must not face a network.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import uvicorn

from returnbridge.sandboxes.amazon.app import create_app
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.middleware import ConnectionDropped
from returnbridge.sandboxes.amazon.ratelimit import Clock
from returnbridge.sandboxes.amazon.state import AmazonSandbox
from returnbridge.threaded_server import Stoppable, ThreadedServer, serve_in_thread

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_loopback(host: str) -> None:
    """Refuse any host but the loopback interface."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"the Amazon sandbox binds to loopback only ({', '.join(sorted(LOOPBACK_HOSTS))}); "
            f"got host {host!r}"
        )


def _is_drop(error: BaseException | None) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return any(_is_drop(inner) for inner in error.exceptions)
    return isinstance(error, ConnectionDropped)


class QuietInjectedDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for every drop the sandbox injects on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_drop(record.exc_info[1]))


def quiet_injected_drops() -> None:
    """Install ``QuietInjectedDrops`` on uvicorn's error logger (once)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietInjectedDrops) for f in logger.filters):
        logger.addFilter(QuietInjectedDrops())


def uvicorn_config(
    sandbox: AmazonSandbox, host: str, port: int, *, log_config: Any = None
) -> uvicorn.Config:
    """A plain-asyncio, h11, no-websocket, no-lifespan uvicorn config: nothing optional loads."""
    return uvicorn.Config(
        create_app(sandbox),
        host=host,
        port=port,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        log_config=log_config,  # None: leave the host process's logging alone
        timeout_graceful_shutdown=1,
    )


class RunningSandbox(Stoppable):
    """A sandbox served by uvicorn in a daemon thread. Use as a context manager, or ``stop()``."""

    def __init__(self, sandbox: AmazonSandbox, served: ThreadedServer) -> None:
        self.sandbox = sandbox
        """The state object: inspect ``stock``, ``credit_notes``, ``counters``..."""
        self.url = served.url
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        self._served = served

    @property
    def lwa_url(self) -> str:
        """The LWA token endpoint of this sandbox."""
        return f"{self.url}/auth/o2/token"

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down and wait for its thread."""
        self._served.stop(timeout)


def start_sandbox(
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    clock: Clock = time.monotonic,
    startup_timeout: float = 10.0,
) -> RunningSandbox:
    """Serve a new ``AmazonSandbox`` on ``host:port`` (0: a free port) and wait until it answers."""
    check_loopback(host)
    quiet_injected_drops()
    sandbox = AmazonSandbox(config, clock)
    served = serve_in_thread(
        uvicorn_config(sandbox, host, port),
        host,
        port,
        ready_path="/_sandbox/state",
        name="Amazon sandbox",
        startup_timeout=startup_timeout,
    )
    return RunningSandbox(sandbox, served)


def serve_forever(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8500) -> None:
    """Serve a sandbox in the foreground until interrupted (Ctrl-C), with uvicorn's logging."""
    check_loopback(host)
    quiet_injected_drops()
    sandbox = AmazonSandbox(config)
    uvicorn.Server(
        uvicorn_config(sandbox, host, port, log_config=uvicorn.config.LOGGING_CONFIG)
    ).run()
