"""uvicorn in a daemon thread: how the service and the partner sandboxes run in-process (tests,
the demo), on a socket bound before the thread starts so port 0 resolves to a free port.

Standard library, uvicorn and httpx only, so every layer may use it (the sandboxes included).
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

import httpx
import uvicorn


def url_of(host: str, port: int) -> str:
    """Base URL for ``host:port`` (IPv6 hosts bracketed), no trailing slash."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class Stoppable:
    """A context manager whose exit calls ``stop()``."""

    def stop(self, timeout: float = 5.0) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ThreadedServer(Stoppable):
    """A uvicorn server running in a daemon thread on its own socket."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket, url: str
    ) -> None:
        self.url = url
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        self.server = server
        self._thread = thread
        self._sock = sock

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down gracefully, forcibly if it lingers, and wait for its thread."""
        self.server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()


def serve_in_thread(
    config: uvicorn.Config,
    host: str,
    port: int,
    *,
    ready_path: str,
    name: str,
    startup_timeout: float = 10.0,
    any_answer: bool = False,
) -> ThreadedServer:
    """Serve ``config``'s app on ``host:port`` (0: a free port); returns once ``ready_path``
    answers 2xx (any status with ``any_answer``), or stops the server and raises
    ``RuntimeError`` naming ``name``."""
    # The explicit IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto
    # says TCP, and without it every response waits ~40 ms for Nagle and delayed ACKs.
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
        target=server.run, kwargs={"sockets": [sock]}, name=f"{name} {url}", daemon=True
    )
    thread.start()
    running = ThreadedServer(server, thread, sock, url)
    deadline = time.monotonic() + startup_timeout
    while True:
        if not thread.is_alive():
            running.stop()
            raise RuntimeError(f"the {name} at {url} failed to start")
        if server.started:
            try:
                answer = httpx.get(f"{url}{ready_path}", timeout=1.0)
                if any_answer or answer.is_success:
                    return running
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"the {name} at {url} did not answer in {startup_timeout}s")
        time.sleep(0.01)
