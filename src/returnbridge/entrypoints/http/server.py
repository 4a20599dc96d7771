"""Serve the HTTP app with uvicorn: in the foreground (``returnbridge serve``) or in a background
thread (tests, demos), on a port chosen by the caller or by the system (port 0)."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from signal import SIGINT, SIGTERM
from types import FrameType
from typing import Any

import uvicorn

from returnbridge.bootstrap import App
from returnbridge.entrypoints.http.app import create_app
from returnbridge.threaded_server import ThreadedServer, serve_in_thread


def uvicorn_config(
    rb: App, host: str, port: int, *, log_config: Any = None, access_log: bool = True
) -> uvicorn.Config:
    """uvloop and httptools (C, pinned: a webhook costs about a quarter less CPU than on asyncio
    and h11), no websockets, no lifespan. The access log (a line per request) is uvicorn's, on when
    ``log_config`` is given, unless ``access_log`` is false.

    ``create_app`` runs here, so unreadable webhook secrets stop the service before it binds.
    """
    return uvicorn.Config(
        create_app(rb),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="off",
        access_log=access_log and log_config is not None,
        log_level="info" if log_config is not None else "warning",
        log_config=log_config,  # None: leave the host process's logging alone
        timeout_graceful_shutdown=10,
        server_header=False,
    )


RunningService = ThreadedServer
"""The service in a daemon thread: ``url``, ``stop()``, and a context manager."""


def start_service(
    rb: App, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> RunningService:
    """Serve ``rb`` on ``host:port`` (0: a free port) in a thread; returns once it answers."""
    return serve_in_thread(
        uvicorn_config(rb, host, port),
        host,
        port,
        ready_path="/healthz",
        name="service",
        startup_timeout=startup_timeout,
        any_answer=True,  # /healthz may say the database is down: the server is up all the same
    )


class _Server(uvicorn.Server):
    """uvicorn, calling ``on_started`` once it listens, and setting ``stopping`` the moment a
    stop signal arrives, so the loops that run beside the app start only once the port is
    bound, and stop taking new work while the requests in flight finish."""

    def __init__(
        self,
        config: uvicorn.Config,
        stopping: threading.Event | None,
        on_started: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self.stopping = stopping
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # exits the process if it cannot listen
        if self.started:
            self.on_started()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.stopping is not None:
            self.stopping.set()
        super().handle_exit(sig, frame)


def serve_forever(
    rb: App,
    host: str,
    port: int,
    announce: Callable[[], None] = lambda: None,
    *,
    stopping: threading.Event | None = None,
    on_started: Callable[[], None] = lambda: None,
    access_log: bool = True,
) -> None:
    """Serve in the foreground with uvicorn's logging; ``announce`` runs once the app is built,
    ``on_started`` once the port is bound (``returnbridge serve`` starts its loops there).
    ``stopping`` is set on SIGINT or SIGTERM.

    SIGINT or SIGTERM stops it gracefully: it stops accepting, requests in flight finish (each
    event committed or not at all), then it returns, and a stop is a normal exit (status 0). A
    signal that comes before uvicorn listens for them (while ``announce`` runs) stops it as soon
    as it has started; the one uvicorn re-sends once it is done finds nothing left to stop.
    """
    server = _Server(
        uvicorn_config(
            rb, host, port, log_config=uvicorn.config.LOGGING_CONFIG, access_log=access_log
        ),
        stopping,
        on_started,
    )

    def stop_requested(_signum: int, _frame: FrameType | None) -> None:
        server.should_exit = True
        if stopping is not None:
            stopping.set()

    previous = {sig: signal.signal(sig, stop_requested) for sig in (SIGINT, SIGTERM)}
    try:
        announce()
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
