"""A long-running process started while its database is down (or restarting) asks again for a
while instead of exiting at once; a command that runs once reports the cause at once."""

from __future__ import annotations

import time

import pytest

from returnbridge.domain.errors import StoreUnavailable
from returnbridge.entrypoints.cli.common import open_app

NOBODY = "postgresql+psycopg://postgres@127.0.0.1:1/returnbridge?connect_timeout=1"


def test_a_database_that_does_not_answer_is_asked_again_until_the_wait_runs_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    with (
        pytest.raises(StoreUnavailable, match="cannot read the schema version"),
        open_app(NOBODY, wait_seconds=2.0),
    ):
        pass
    assert time.monotonic() - started >= 1.0
    assert capsys.readouterr().err.count("asking again") >= 2


def test_a_one_off_command_says_the_database_is_unavailable_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable), open_app(NOBODY):
        pass
    assert time.monotonic() - started < 5
