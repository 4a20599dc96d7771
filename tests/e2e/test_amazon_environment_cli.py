"""`returnbridge cycle close` configured by environment only, with Amazon's credentials set but
no sandbox endpoint, or Amazon's real host without production chosen: it refuses in one line
(the `error [code] message` of every refusal, no traceback) before any request is made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from returnbridge.sandboxes.amazon.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
)

RUN = [sys.executable, "-m", "returnbridge"]
CREDENTIALS = {
    "RETURNBRIDGE_AMAZON_CLIENT_ID": DEFAULT_CLIENT_ID,
    "RETURNBRIDGE_AMAZON_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    "RETURNBRIDGE_AMAZON_REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN,
    "RETURNBRIDGE_AMAZON_SELLING_PARTY": "CASTORE",
}


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'rb.db'}"
    subprocess.run([*RUN, "db", "upgrade", "--db", url], check=True, capture_output=True)
    return url


def cycle_close(db: str, **amazon: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_AMAZON")}
    env.update(CREDENTIALS, **amazon)
    return subprocess.run(
        [*RUN, "cycle", "close", "--poll-seconds", "0", "--db", db],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cycle_close_without_an_endpoint_refuses_saying_to_point_at_the_sandbox(db: str) -> None:
    closed = cycle_close(db)
    assert closed.returncode == 2
    assert "Traceback" not in closed.stderr and closed.stdout == ""
    [line] = closed.stderr.splitlines()
    assert line.startswith("error [config.missing] RETURNBRIDGE_AMAZON_ENDPOINT is not set")
    assert "RETURNBRIDGE_AMAZON_ENVIRONMENT" in line and "`returnbridge sandbox amazon`" in line


def test_cycle_close_refuses_amazons_real_host_until_production_is_chosen(db: str) -> None:
    closed = cycle_close(db, RETURNBRIDGE_AMAZON_ENDPOINT="https://sellingpartnerapi-eu.amazon.com")
    assert closed.returncode == 2
    assert "Traceback" not in closed.stderr and closed.stdout == ""
    [line] = closed.stderr.splitlines()
    assert line.startswith("error [config.production_not_chosen] ")
    assert "RETURNBRIDGE_AMAZON_ENVIRONMENT=production" in line


def test_a_setting_given_a_value_it_cannot_take_is_one_line_naming_the_variable(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "RETURNBRIDGE_AMAZON_ENVIRONMENT": "prod"}
    done = subprocess.run(
        [sys.executable, "-m", "returnbridge", "warehouses", "show", "--db",
         f"sqlite:///{tmp_path / 'rb.db'}"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error [config.invalid] ")
    assert "RETURNBRIDGE_AMAZON_ENVIRONMENT" in lines[0] and "Traceback" not in done.stderr
