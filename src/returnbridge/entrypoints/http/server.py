"""Serve the HTTP app with uvicorn: in the foreground (``returnbridge serve``) or in a background
thread (tests, demos), on a port chosen by the caller or by the system (port 0)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from signal import SIGINT, SIGTERM
from types import FrameType, TracebackType
from typing import Any

import httpx
import uvicorn

from returnbridge.bootstrap import App
from returnbridge.entrypoints.http.app import create_app


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


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class RunningService:
    """The service in a daemon thread. Use as a context manager, or ``stop()``."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket, url: str
    ) -> None:
        self.url = url
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        self._server = server
        self._thread = thread
        self._sock = sock

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down gracefully and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> RunningService:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_service(
    rb: App, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> RunningService:
    """Serve ``rb`` on ``host:port`` (0: a free port) in a thread; returns once it answers."""
    config = uvicorn_config(rb, host, port)
    # Bind here so port 0 resolves before the thread starts; IPPROTO_TCP so asyncio sets
    # TCP_NODELAY (without it every answer waits for Nagle and delayed ACKs).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    url = url_of(host, sock.getsockname()[1])
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"returnbridge {url}", daemon=True
    )
    thread.start()
    running = RunningService(server, thread, sock, url)
    deadline = time.monotonic() + startup_timeout
    while True:
        if not thread.is_alive():
            running.stop()
            raise RuntimeError(f"the service at {url} failed to start")
        if server.started:
            try:
                httpx.get(f"{url}/healthz", timeout=1.0)
                return running
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"the service at {url} did not answer in {startup_timeout}s")
        time.sleep(0.01)


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
