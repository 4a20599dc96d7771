"""ZigZag's webhook deliveries: signed per Standard Webhooks, retried daily for a week."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from standardwebhooks import Webhook
from zigzag_support import StartZigZag, webhook_target

from returnbridge.sandboxes.zigzag import ZigZagSandboxConfig, day_deliveries, deliver_day
from returnbridge.sandboxes.zigzag.generator import generate_day

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"returnbridge-test-webhook-secret!").decode()
FAST = 2e-7  # a day of retry wait becomes 17 ms


def config(url: str, **knobs: object) -> ZigZagSandboxConfig:
    return ZigZagSandboxConfig(
        returns=knobs.pop("returns", 3),  # type: ignore[arg-type]
        webhook_url=url,
        webhook_secret=SECRET,
        time_scale=FAST,
        **knobs,  # type: ignore[arg-type]
    )


def test_every_delivery_is_signed_so_the_standard_webhooks_library_verifies_it() -> None:
    with webhook_target(202) as target:
        report = deliver_day(config(target.url, returns=30))

    messages = day_deliveries(generate_day(30, 0)).webhooks
    assert report.delivered == len(messages) == len(target.received)
    verifier = Webhook(SECRET)
    for message, received in zip(messages, target.received, strict=True):
        assert verifier.verify(received.body, received.headers) == message.event
        assert received.headers["webhook-id"] == message.msg_id == message.event["id"]
        assert received.headers["content-type"] == "application/json"
    duplicated = [m.msg_id for m in messages if [x.msg_id for x in messages].count(m.msg_id) > 1]
    assert duplicated  # a re-sent event carries the same webhook-id


def test_a_signature_does_not_verify_under_another_secret() -> None:
    with webhook_target(202) as target:
        deliver_day(config(target.url, returns=1))
    other = Webhook("whsec_" + base64.b64encode(b"another-secret-of-enough-bytes").decode())
    received = target.received[0]
    with pytest.raises(Exception, match="No matching signature"):
        other.verify(received.body, received.headers)


def test_a_failing_target_is_retried_daily_until_it_succeeds_counting_attempts() -> None:
    with webhook_target(503, 400, 401, 202) as target:
        report = deliver_day(config(target.url, returns=1))

    assert all(r.statuses == [503, 400, 401, 202] for r in report.records)
    assert all(r.attempts == 4 and r.outcome == "delivered" for r in report.records)
    assert report.rounds == 4 and report.failed == 0
    assert report.attempts == len(target.received) == 4 * len(report.records)
    first = report.records[0].msg_id
    ids = [r.headers["webhook-id"] for r in target.received]
    assert ids.count(first) == 4  # the same id on every retry


def test_a_delivery_failing_all_week_is_given_up_after_eight_attempts() -> None:
    with webhook_target(500) as target:
        report = deliver_day(config(target.url, returns=1))

    assert report.rounds == 8  # the first attempt, then daily for 7 days
    assert all(r.attempts == 8 and r.outcome == "failed" for r in report.records)
    assert len(target.received) == 8 * len(report.records)


def test_an_unreachable_target_counts_as_no_answer_and_is_retried() -> None:
    report = deliver_day(config("http://127.0.0.1:9/webhooks/zigzag", returns=1))
    record = report.records[0]
    assert record.statuses == [None] * 8 and record.reached == 0
    assert record.outcome == "failed" and "no answer" in (record.last_error or "")


def test_a_lost_answer_makes_the_target_see_the_same_id_again() -> None:
    with webhook_target(202) as target:
        report = deliver_day(config(target.url, returns=4, lost_answer_rate=0.3, seed=2))

    assert report.delivered == len(report.records)
    twice = [r for r in report.records if r.reached > 1]
    assert twice
    received_ids = [r.headers["webhook-id"] for r in target.received]
    assert all(received_ids.count(r.msg_id) >= r.reached for r in twice)


def test_the_running_sandbox_delivers_its_day_and_shows_it_in_its_state(
    zigzag: StartZigZag,
) -> None:
    with webhook_target(500, 202) as target:
        running = zigzag(returns=2, webhook_url=target.url, webhook_secret=SECRET, time_scale=FAST)
        running.deliver()
        state = httpx.get(f"{running.url}/_sandbox/state").json()

    hooks = state["webhooks"]
    assert hooks["finished"] and hooks["delivered"] == hooks["messages"] == state["feed_events"]
    assert hooks["deliveries"][0]["statuses"] == [500, 202]
    assert hooks["attempts"] == len(target.received) > hooks["messages"]
    assert json.loads(target.received[0].body) == running.sandbox.feed[0]
