"""``returnbridge sandbox amazon``: options become a config; the server runs in the foreground."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
import typer
from amazon_sandbox_support import token_form
from typer.testing import CliRunner

from returnbridge.entrypoints.cli import sandbox as sandbox_cli
from returnbridge.sandboxes.amazon import DEFAULT_CLIENT_ID, DEFAULT_REFRESH_TOKEN, SandboxConfig
from returnbridge.sandboxes.amazon import server as sandbox_server


def cli() -> typer.Typer:
    app = typer.Typer()
    sandbox_cli.register(app)

    @app.callback()
    def root() -> None:
        """Keeps ``sandbox`` a sub-command, as in the real app."""

    return app


def test_the_options_become_the_sandbox_config(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[SandboxConfig, str, int]] = []
    monkeypatch.setattr(sandbox_server, "serve_forever", lambda c, h, p: served.append((c, h, p)))

    result = CliRunner().invoke(
        cli(),
        [
            "sandbox",
            "amazon",
            "--port",
            "8600",
            "--seed",
            "4",
            "--faults",
            "0.5",
            "--reject-rate",
            "0.1",
            "--stuck-rate",
            "0.05",
        ],
    )

    assert result.exit_code == 0, result.output
    ((config, host, port),) = served
    assert (host, port) == ("127.0.0.1", 8600)
    assert config == SandboxConfig(seed=4, reject_rate=0.1, stuck_rate=0.05).with_faults(0.5)
    assert "http://127.0.0.1:8600" in result.output
    assert DEFAULT_CLIENT_ID in result.output
    assert DEFAULT_REFRESH_TOKEN in result.output
    assert config.client_secret in result.output


def test_a_host_beyond_loopback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_server, "serve_forever", lambda *a: pytest.fail("served"))

    result = CliRunner().invoke(cli(), ["sandbox", "amazon", "--host", "0.0.0.0"])

    assert result.exit_code == 2
    assert "loopback" in result.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_command_serves_in_the_foreground_until_interrupted() -> None:
    port = free_port()
    # app.py registers the group (the other half of this change); register it here likewise.
    code = (
        "import typer\n"
        "from returnbridge.entrypoints.cli import sandbox\n"
        "app = typer.Typer()\n"
        "app.callback()(lambda: None)\n"
        "sandbox.register(app)\n"
        f"app(['sandbox', 'amazon', '--port', '{port}'])\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/auth/o2/token", data=token_form())
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.05)
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in out
