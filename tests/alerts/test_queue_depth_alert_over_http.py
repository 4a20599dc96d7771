"""The issue's done-when, over real HTTP: with the workers stopped, signed webhooks POSTed to
the service pile up in the inbox and fire QUEUE_DEPTH, which is stored once and posted once to
the chat webhook, and resolved (and posted as resolved) once the inbox is drained. A webhook
that is down gets the notification at the next evaluation, once."""

from __future__ import annotations

import base64
import json

import pytest
from alerts_support import HOOK_PATH, MakeApp, Receiver, post_events, post_webhooks
from typer.testing import CliRunner

from returnbridge.entrypoints.alerting import evaluate_alerts
from returnbridge.entrypoints.cli.app import app as cli
from returnbridge.store.alerts import list_alerts

pytestmark = pytest.mark.integration
SECRET_PART = HOOK_PATH.rsplit("/", 1)[1]
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"queue-depth-test-secret-32bytes!").decode()


def test_a_full_inbox_fires_queue_depth_once_and_resolves_once_drained(
    make_app: MakeApp, db_url: str, receiver: Receiver, hook_url: str
) -> None:
    rb = make_app(
        db_url,
        alert_inbox_depth_limit=2,
        alert_webhook_url=hook_url,
        zigzag_webhook_secret=WEBHOOK_SECRET,
    )
    post_webhooks(rb, 3)  # the workers are stopped: nothing processes them

    first = evaluate_alerts(rb)
    assert [a.key for a in first.fired] == ["QUEUE_DEPTH:inbox"]
    (posted,) = receiver.texts()
    assert posted.startswith("[FIRING] QUEUE_DEPTH (warning): 3 inbox event(s) pending (limit 2)")
    assert "docs/operations.md#queue_depth" in posted

    post_webhooks(rb, 1, prefix="more")
    second = evaluate_alerts(rb)
    assert second.fired == [] and [a.key for a in second.firing] == ["QUEUE_DEPTH:inbox"]
    assert second.firing[0].summary.startswith("4 inbox event(s)")
    assert len(list_alerts(rb.engine, include_resolved=True)) == 1
    assert len(receiver.texts()) == 1  # still firing: not posted again

    assert rb.processor.drain().processed == 4
    third = evaluate_alerts(rb)
    assert [a.key for a in third.resolved] == ["QUEUE_DEPTH:inbox"] and third.firing == []
    assert len(receiver.texts()) == 2
    assert receiver.texts()[1].startswith("[RESOLVED] QUEUE_DEPTH: ")

    (stored,) = list_alerts(rb.engine, include_resolved=True)
    assert stored.resolved_at is not None and stored.resolve_notified_at is not None
    assert (stored.seen_count, stored.notified_via, stored.notice_owed) == (2, "webhook", None)
    assert evaluate_alerts(rb).delivered == 0 and len(receiver.texts()) == 2


def test_a_notification_the_webhook_missed_goes_at_the_next_evaluation_once(
    make_app: MakeApp,
    sqlite_url: str,
    receiver: Receiver,
    hook_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rb = make_app(sqlite_url, alert_inbox_depth_limit=0, alert_webhook_url=hook_url)
    post_events(rb, 1)
    receiver.fail = 3  # down for every attempt of the first delivery

    first = evaluate_alerts(rb)
    assert [a.key for a in first.fired] == ["QUEUE_DEPTH:inbox"]
    assert (first.delivered, first.owed, receiver.refused, receiver.texts()) == (0, 1, 3, [])
    assert first.error is not None and "HTTP 503" in first.error
    (owed,) = list_alerts(rb.engine)
    assert owed.notice_owed == "firing" and owed.notify_attempts == 1

    second = evaluate_alerts(rb)
    assert second.delivered == 1 and len(receiver.texts()) == 1
    assert evaluate_alerts(rb).delivered == 0 and len(receiver.texts()) == 1

    listed = CliRunner().invoke(cli, ["alerts", "list", "--json", "--db", sqlite_url])
    assert listed.exit_code == 0, listed.output
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["key"] == "QUEUE_DEPTH:inbox" and row["notification"] == "sent (webhook)"
    assert SECRET_PART not in capsys.readouterr().out + (owed.notify_error or "")


def test_an_unreachable_webhook_leaves_the_notification_owed_and_its_url_unsaid(
    make_app: MakeApp, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:9{HOOK_PATH}"  # the discard port: nothing listens there
    rb = make_app(sqlite_url, alert_inbox_depth_limit=0, alert_webhook_url=url)
    post_events(rb, 1)
    run = evaluate_alerts(rb)
    assert run.owed == 1 and run.error is not None and "ConnectError" in run.error
    (owed,) = list_alerts(rb.engine)
    assert owed.notice_owed == "firing"
    assert SECRET_PART not in (owed.notify_error or "") + capsys.readouterr().out


def test_alerts_check_prints_what_fires_and_exits_0(
    make_app: MakeApp, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_app(sqlite_url)
    monkeypatch.setenv("RETURNBRIDGE_ALERT_INBOX_DEPTH_LIMIT", "0")
    rb = make_app(sqlite_url)  # the same database, now with events waiting
    post_events(rb, 1)
    checked = CliRunner().invoke(cli, ["alerts", "check", "--db", sqlite_url])
    assert checked.exit_code == 0, checked.output
    assert "fired QUEUE_DEPTH:inbox: 1 inbox event(s) pending (limit 0)" in checked.stdout
    quiet = CliRunner().invoke(cli, ["alerts", "list", "--all", "--db", sqlite_url])
    assert quiet.exit_code == 0 and "QUEUE_DEPTH:inbox" in quiet.stdout and "firing" in quiet.stdout
