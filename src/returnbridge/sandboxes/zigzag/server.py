"""Run the ZigZag sandbox over real HTTP: in a background thread (tests, demo) or in the
foreground (CLI), with its webhook deliveries in a thread of their own.

Loopback only: the sandbox accepts published credentials, so it must not face a network.
"""

from __future__ import annotations

import threading
from typing import Any

import uvicorn

from returnbridge.sandboxes.zigzag.app import EVENTS_PATH, STATE_PATH, TOKEN_PATH, create_app
from returnbridge.sandboxes.zigzag.config import ZigZagSandboxConfig
from returnbridge.sandboxes.zigzag.state import ZigZagSandbox
from returnbridge.sandboxes.zigzag.webhooks import DeliveryReport
from returnbridge.threaded_server import Stoppable, ThreadedServer, serve_in_thread, url_of

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_loopback(host: str) -> None:
    """Refuse any host but the loopback interface."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"the ZigZag sandbox binds to loopback only ({', '.join(sorted(LOOPBACK_HOSTS))}); "
            f"got host {host!r}"
        )


def base_url(host: str, port: int) -> str:
    return url_of(host, port)


def uvicorn_config(
    sandbox: ZigZagSandbox, host: str, port: int, *, log_config: Any = None
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

    def __init__(self, sandbox: ZigZagSandbox, served: ThreadedServer) -> None:
        self.sandbox = sandbox
        """The state object: ``feed``, ``counters``, ``delivery``, ``reset(config)``."""
        self.url = served.url
        """Base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        self._served = served
        self._stop_delivery = threading.Event()
        self._delivery_thread: threading.Thread | None = None

    @property
    def token_url(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    @property
    def events_url(self) -> str:
        return f"{self.url}{EVENTS_PATH}"

    def deliver(self) -> DeliveryReport:
        """Deliver the whole day to the configured webhook URL now, retries included; returns
        when every delivery succeeded or ran out of retries."""
        return self.sandbox.deliver(stop=self._stop_delivery)

    def deliver_in_background(self) -> threading.Thread:
        """``deliver()`` in a daemon thread (``sandbox.delivery`` shows the progress)."""
        thread = threading.Thread(target=self.deliver, name="zigzag-webhooks", daemon=True)
        self._delivery_thread = thread
        thread.start()
        return thread

    def stop(self, timeout: float = 5.0) -> None:
        """Stop delivering, shut the server down and wait for its threads."""
        self._stop_delivery.set()
        if self._delivery_thread is not None:
            self._delivery_thread.join(timeout)
        self._served.stop(timeout)


def start_sandbox(
    config: ZigZagSandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 10.0,
) -> RunningSandbox:
    """Serve a new ``ZigZagSandbox`` on ``host:port`` (0: a free port) and wait until it answers.
    Webhooks are not sent until ``deliver()`` or ``deliver_in_background()`` is called."""
    check_loopback(host)
    sandbox = ZigZagSandbox(config)
    served = serve_in_thread(
        uvicorn_config(sandbox, host, port),
        host,
        port,
        ready_path=STATE_PATH,
        name="ZigZag sandbox",
        startup_timeout=startup_timeout,
    )
    return RunningSandbox(sandbox, served)


def serve_forever(config: ZigZagSandboxConfig, host: str = "127.0.0.1", port: int = 8600) -> None:
    """Serve a sandbox in the foreground until interrupted (Ctrl-C), with uvicorn's logging; with
    a webhook URL, deliver the day to it once the server is up."""
    check_loopback(host)
    sandbox = ZigZagSandbox(config)
    server = uvicorn.Server(
        uvicorn_config(sandbox, host, port, log_config=uvicorn.config.LOGGING_CONFIG)
    )
    stop = threading.Event()

    def deliver_when_up() -> None:
        while not server.started and not stop.is_set():
            stop.wait(0.05)
        if not stop.is_set():
            report = sandbox.deliver(stop=stop)
            summary = report.summary()
            # The foreground server's own report, beside uvicorn's log.
            print(
                f"webhooks: {summary['delivered']} delivered, {summary['failed']} failed, "
                f"{summary['attempts']} attempts in {summary['rounds']} rounds",
                flush=True,
            )

    if config.webhook_url:
        threading.Thread(target=deliver_when_up, name="zigzag-webhooks", daemon=True).start()
    try:
        server.run()
    finally:
        stop.set()
