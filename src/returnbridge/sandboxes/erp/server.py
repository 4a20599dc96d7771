"""Serve the ERP stand-in with uvicorn in a daemon thread, on loopback only."""

from __future__ import annotations

import uvicorn

from returnbridge.sandboxes.erp.app import BATCHES_PATH, ErpSandbox, create_app
from returnbridge.threaded_server import Stoppable, ThreadedServer, serve_in_thread

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class RunningErpSandbox(Stoppable):
    """A running stand-in: ``sandbox`` is its state, ``batches_url`` the URL to POST to."""

    def __init__(self, sandbox: ErpSandbox, served: ThreadedServer) -> None:
        self.sandbox = sandbox
        self.url = served.url
        self.batches_url = f"{served.url}{BATCHES_PATH}"
        self._served = served

    def stop(self, timeout: float = 5.0) -> None:
        self._served.stop(timeout)


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
    config = uvicorn.Config(
        create_app(sandbox),
        host=host,
        port=port,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="off",
        access_log=False,
        log_level="warning",
        log_config=None,
        timeout_graceful_shutdown=1,
    )
    served = serve_in_thread(
        config,
        host,
        port,
        ready_path="/_sandbox/state",
        name="ERP sandbox",
        startup_timeout=startup_timeout,
    )
    return RunningErpSandbox(sandbox, served)


__all__ = ["RunningErpSandbox", "start_erp_sandbox"]
