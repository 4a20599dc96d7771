"""Serve the ERP stand-in with uvicorn in a daemon thread, on loopback only."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import httpx
import uvicorn

from returnbridge.sandboxes.erp.app import BATCHES_PATH, ErpSandbox, create_app

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class RunningErpSandbox:
    """A running stand-in: ``sandbox`` is its state, ``batches_url`` the URL to POST to."""

    def __init__(
        self,
        sandbox: ErpSandbox,
        server: uvicorn.Server,
        thread: threading.Thread,
        sock: socket.socket,
        url: str,
    ) -> None:
        self.sandbox = sandbox
        self.url = url
        self.batches_url = f"{url}{BATCHES_PATH}"
        self._server = server
        self._thread = thread
        self._sock = sock

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> RunningErpSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_erp_sandbox(
    sandbox: ErpSandbox | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
) -> RunningErpSandbox:
    """Serve ``sandbox`` on ``host:port`` (0: a free port) and wait until it answers."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"the ERP sandbox binds to loopback only; got host {host!r}")
    sandbox = sandbox or ErpSandbox()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    url = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
    config = uvicorn.Config(
        create_app(sandbox),
        host=host,
        port=bound,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"erp-sandbox {url}", daemon=True
    )
    thread.start()
    running = RunningErpSandbox(sandbox, server, thread, sock, url)
    deadline = time.monotonic() + startup_timeout
    while True:
        if not thread.is_alive():
            running.stop()
            raise RuntimeError(f"the ERP sandbox at {url} failed to start")
        if server.started:
            try:
                httpx.get(f"{url}/_sandbox/state", timeout=1.0).raise_for_status()
                return running
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            running.stop()
            raise RuntimeError(f"the ERP sandbox at {url} did not answer in {startup_timeout}s")
        time.sleep(0.01)


__all__ = ["RunningErpSandbox", "start_erp_sandbox"]
