"""The commands: ``poll zigzag``, ``import zigzag-folder`` and ``sandbox zigzag``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner
from zigzag_support import MakeApp, StartZigZag, inbox_rows

from returnbridge.bootstrap import ConfigurationMissing
from returnbridge.entrypoints.cli import feeds, pipeline, sandbox
from returnbridge.sandboxes.zigzag import DEFAULT_PASSWORD, DEFAULT_USERNAME, ZigZagSandboxConfig
from returnbridge.sandboxes.zigzag import server as zigzag_server
from returnbridge.sandboxes.zigzag.generator import generate_day, write_export

pytestmark = pytest.mark.integration

SECRET = "whsec_cmV0dXJuYnJpZGdlLXRlc3Qtd2ViaG9vay1zZWNyZXQh"


def cli() -> typer.Typer:
    app = typer.Typer()
    pipeline.register(app)
    feeds.register(app)
    sandbox.register(app)

    @app.callback()
    def root() -> None:
        """Keeps the groups sub-commands, as in the real app."""

    return app


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch, zigzag: StartZigZag) -> dict[str, str]:
    running = zigzag(returns=15, seed=9)
    env = {
        "RETURNBRIDGE_ZIGZAG_API_URL": running.url,
        "RETURNBRIDGE_ZIGZAG_API_USERNAME": DEFAULT_USERNAME,
        "RETURNBRIDGE_ZIGZAG_API_PASSWORD": DEFAULT_PASSWORD,
        "RETURNBRIDGE_ZIGZAG_POLL_PAGE_SIZE": "20",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(feeds, "stop_on_signals", lambda _stop: None)
    return env


def test_poll_once_stores_the_feed_and_prints_the_totals_and_the_cursor(
    api_env: dict[str, str], sqlite_url: str, app_factory: MakeApp
) -> None:
    rb = app_factory(sqlite_url)

    first = CliRunner().invoke(cli(), ["poll", "zigzag", "--once", "--db", sqlite_url])
    again = CliRunner().invoke(cli(), ["poll", "zigzag", "--once", "--db", sqlite_url])

    assert first.exit_code == 0, first.output
    assert "events accepted" in first.output and "3 unreadable" in first.output
    assert not first.output.splitlines()[0].endswith("cursor (start)")
    assert again.output.startswith("0 pages, 0 events accepted, 0 duplicates ignored")
    assert len(inbox_rows(rb)) > 0


def test_poll_names_the_settings_it_lacks(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, app_factory: MakeApp
) -> None:
    app_factory(sqlite_url)
    monkeypatch.setattr(feeds, "stop_on_signals", lambda _stop: None)
    result = CliRunner().invoke(cli(), ["poll", "zigzag", "--once", "--db", sqlite_url])
    assert isinstance(result.exception, ConfigurationMissing)
    assert "RETURNBRIDGE_ZIGZAG_API_URL" in result.exception.message


def test_import_zigzag_folder_imports_and_moves_each_complete_export(
    tmp_path: Path, sqlite_url: str, app_factory: MakeApp
) -> None:
    rb = app_factory(sqlite_url)
    drop = tmp_path / "drop"
    drop.mkdir()
    write_export(generate_day(10, 2), drop / "day.csv")
    (drop / "day2.csv.part").write_text("partial", encoding="utf-8")

    result = CliRunner().invoke(
        cli(), ["import", "zigzag-folder", str(drop), "--settle", "0", "--db", sqlite_url]
    )

    assert result.exit_code == 0, result.output
    assert "day.csv:" in result.output and "1 files handled, 0 left" in result.output
    assert (drop / "done" / "day.csv").exists() and (drop / "day2.csv.part").exists()
    assert inbox_rows(rb)


def test_sandbox_zigzag_options_become_the_config_and_it_prints_how_to_reach_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[tuple[ZigZagSandboxConfig, str, int]] = []
    monkeypatch.setattr(zigzag_server, "serve_forever", lambda c, h, p: served.append((c, h, p)))
    args = ["sandbox", "zigzag", "--port", "8601", "--seed", "4", "--returns", "10"]
    hooks = ["--webhook-url", "http://127.0.0.1:8000/webhooks/zigzag", "--webhook-secret", SECRET]

    result = CliRunner().invoke(cli(), [*args, *hooks, "--time-scale", "0.0001"])

    assert result.exit_code == 0, result.output
    ((config, host, port),) = served
    assert (config.seed, config.returns, host, port) == (4, 10, "127.0.0.1", 8601)
    assert config.webhook_url == hooks[1] and config.webhook_secret == SECRET
    assert config.time_scale == 0.0001
    for shown in ("POST http://127.0.0.1:8601/token", "GET http://127.0.0.1:8601/events"):
        assert shown in result.output
    assert DEFAULT_USERNAME in result.output and DEFAULT_PASSWORD in result.output


@pytest.mark.parametrize(
    "bad",
    [
        ["--host", "0.0.0.0"],
        ["--webhook-url", "http://127.0.0.1:8000/hooks"],
        ["--webhook-url", "http://127.0.0.1:8000/hooks", "--webhook-secret", "plain"],
    ],
)
def test_sandbox_zigzag_refuses_a_public_host_or_an_unsigned_webhook(bad: list[str]) -> None:
    result = CliRunner().invoke(cli(), ["sandbox", "zigzag", *bad])
    assert result.exit_code == 2


def test_polling_without_once_keeps_going_until_sigterm(
    api_env: dict[str, str], sqlite_url: str, app_factory: MakeApp
) -> None:
    rb = app_factory(sqlite_url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")},
        **api_env,
    }
    command = [sys.executable, "-m", "returnbridge", "poll", "zigzag", "--interval", "0.2"]
    worker = subprocess.Popen(
        [*command, "--db", sqlite_url], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None
        assert "polling" in worker.stdout.readline()
        assert "events accepted" in worker.stdout.readline()
        time.sleep(0.3)  # at least one more, empty, poll
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(10) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(5)
        if worker.stdout is not None:
            worker.stdout.close()
    assert inbox_rows(rb)
