"""Serve the HTTP app with uvicorn: in the foreground (``returnbridge serve``) or in a background
thread (tests, demos), on a port chosen by the caller or by the system (port 0)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from signal import SIGINT, SIGTERM
from types import FrameType
from typing import Any

import uvicorn

from returnbridge.bootstrap import App
from returnbridge.entrypoints.http.app import create_app
from returnbridge.threaded_server import ThreadedServer, serve_in_thread


def uvicorn_config(rb: App, host: str, port: int, *, log_config: Any = None) -> uvicorn.Config:
    """Plain asyncio and h11, no websockets, no lifespan: nothing optional loads.

    ``create_app`` runs here, so unreadable webhook secrets stop the service before it binds.
    """
    return uvicorn.Config(
        create_app(rb),
        host=host,
        port=port,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="off",
        access_log=log_config is not None,
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


def serve_forever(
    rb: App, host: str, port: int, announce: Callable[[], None] = lambda: None
) -> None:
    """Serve in the foreground with uvicorn's logging; ``announce`` runs once the app is built.

    SIGINT or SIGTERM stops it gracefully: requests in flight finish (each event committed or
    not at all), then it returns. uvicorn re-sends the signal to the handler in place before it
    started once it is done; that handler is a no-op here, so a stop is a normal exit (status 0).
    """
    server = uvicorn.Server(
        uvicorn_config(rb, host, port, log_config=uvicorn.config.LOGGING_CONFIG)
    )
    announce()
    previous = {sig: signal.signal(sig, _already_stopped) for sig in (SIGINT, SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _already_stopped(_signum: int, _frame: FrameType | None) -> None:
    """uvicorn's re-sent stop signal, after its graceful shutdown: nothing is left to do."""
