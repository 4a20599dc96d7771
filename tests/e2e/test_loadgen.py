"""The load generator against a running ``returnbridge serve`` (a child process): every event
the service said it holds is in its inbox exactly once; with a tiny hard limit the refusals are
sent again after their Retry-After until every event is stored once; ``returnbridge loadgen``
prints the figures as tables or JSON; a target that is not loopback is refused before anything
is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.entrypoints.cli.app import app as cli
from returnbridge.store.migrate import upgrade
from returnbridge.testing.loadgen import (
    LoadgenRefused,
    LoadPlan,
    check_inbox,
    loopback_target,
    messages,
    run_load,
)
from returnbridge.testing.serve_process import serve_process

SECRET = "whsec_bG9hZGdlbi10ZXN0LXNlY3JldC10aGlydHktdHdvIQ=="
INGEST_ONLY = ("--no-worker", "--no-cycles", "--no-erp", "--no-alerts")


@pytest.fixture
def rb(tmp_path: Path) -> Iterator[App]:
    """The service's database, upgraded; the test reads it afterwards."""
    app = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'rb.db'}"))
    upgrade(app.engine)
    yield app
    app.close()


def db_url(rb: App) -> str:
    return rb.engine.url.render_as_string(hide_password=False)


def test_every_event_the_service_holds_is_in_its_inbox_exactly_once(
    rb: App, tmp_path: Path
) -> None:
    env = {"RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET": SECRET}
    with serve_process(db_url(rb), tmp_path / "serve.log", env=env, args=INGEST_ONLY) as served:
        url = served.url
        # The day as ZigZag sends it: events, repeats of some, a few that break the rules.
        report = run_load(LoadPlan(url, SECRET, count=300, connections=8, seconds=30))
        check = check_inbox(rb.engine, report.deliveries)
        runner = CliRunner()
        command = ["loadgen", "--url", url, "--db", db_url(rb), "--count", "40", "--seed", "9"]
        as_json = runner.invoke(cli, [*command, "--json"], env=env)
        as_tables = runner.invoke(cli, [*command, "--connections", "2"], env=env)
    assert report.unfinished == 0 and report.retries == 0
    assert set(report.outcomes()) <= {"200", "202", "400"} and report.accepted > 200
    assert check.ok and check.checked == check.stored_once == check.inbox_rows
    assert report.percentile_ms(99) >= report.percentile_ms(50) > 0

    assert as_json.exit_code == 0, as_json.output
    figures = json.loads(as_json.output.strip().splitlines()[-1])
    assert figures["check"]["ok"] and figures["deliveries"] == 40
    assert set(figures["latency_ms"]) == {"p50", "p95", "p99"}
    assert as_tables.exit_code == 0, as_tables.output
    assert "accepted/s" in as_tables.output and "inbox check ok" in as_tables.output


def test_refused_deliveries_are_sent_again_until_every_event_is_stored_once(
    rb: App, tmp_path: Path
) -> None:
    env = {
        "RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET": SECRET,
        "RETURNBRIDGE_INBOX_HARD_LIMIT": "30",
        "RETURNBRIDGE_INBOX_RETRY_AFTER_SECONDS": "1",
    }
    # The worker runs beside the endpoint: it empties the inbox, so the refusals end.
    args = ("--interval", "0.05", "--no-cycles", "--no-erp", "--no-alerts")
    with serve_process(db_url(rb), tmp_path / "serve.log", env=env, args=args) as served:
        plan = LoadPlan(served.url, SECRET, count=120, connections=8, seconds=40, unique=True)
        report = run_load(plan)
    assert report.statuses[500] > 0 and report.retries > 0
    assert report.outcomes() == {"202": 120}
    check = check_inbox(rb.engine, report.deliveries)
    assert check.ok and check.stored_once == check.inbox_rows == 120


@pytest.mark.parametrize(
    "url",
    ["http://192.0.2.10:8000", "https://127.0.0.1:8000", "http://[2001:db8::1]:80", "ftp://x"],
)
def test_a_target_that_is_not_loopback_is_refused(url: str) -> None:
    with pytest.raises(LoadgenRefused):
        loopback_target(url)
    result = CliRunner().invoke(
        cli,
        ["loadgen", "--url", url, "--no-check"],
        env={"RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET": SECRET},
    )
    assert isinstance(result.exception, LoadgenRefused)


def test_loopback_targets_are_taken() -> None:
    assert loopback_target("http://127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert loopback_target("http://127.0.0.2") == ("127.0.0.2", 80)
    assert loopback_target("http://[::1]:9000") == ("::1", 9000)


def test_unique_messages_are_distinct_events_of_the_seeded_day() -> None:
    chosen = messages(300, seed=3, unique=True)
    assert len({m.msg_id for m in chosen}) == 300
    assert chosen == messages(300, seed=3, unique=True)
