"""The Slack-compatible webhook sender: the message it posts, its retries, and a URL that never
shows in an error or a log line."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest

from returnbridge.connectors.slack import RetryPolicy, SlackWebhookNotifier, slack_message
from returnbridge.services.alerting import AlertNotDelivered, AlertNotice, StoredAlert

URL = "https://chat.example.invalid/services/T1/B2/very-secret-part"
T = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
ALERT = StoredAlert(
    id=1,
    key="QUEUE_DEPTH:inbox",
    name="QUEUE_DEPTH",
    severity="warning",
    summary="5001 inbox event(s) pending (limit 5000) <b>&",
    runbook="docs/operations.md#queue_depth",
    source="state",
    first_seen=T,
    last_seen=T,
)
FAST = RetryPolicy(attempts=3, base_seconds=0, cap_seconds=0)


def notifier(handler: httpx.MockTransport) -> SlackWebhookNotifier:
    return SlackWebhookNotifier(
        URL, httpx.Client(transport=handler), retry=FAST, sleep=lambda _: None
    )


def test_the_message_is_slack_json_with_the_runbook_link() -> None:
    body = slack_message(
        AlertNotice(ALERT, "firing"), runbook_url="https://docs.example.invalid/operations.md"
    )
    assert set(body) == {"text", "blocks"}
    assert body["text"].startswith("[FIRING] QUEUE_DEPTH (warning): 5001 inbox event(s)")
    assert "&lt;b&gt;&amp;" in body["text"]  # our words cannot turn into Slack markup
    assert "<https://docs.example.invalid/operations.md#queue_depth|" in body["text"]
    assert [b["type"] for b in body["blocks"]] == ["section", "context"]
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"

    resolved = replace(ALERT, resolved_at=T)
    text = slack_message(AlertNotice(resolved, "resolved"))["text"]
    assert text.startswith("[RESOLVED] QUEUE_DEPTH:")
    assert "`docs/operations.md#queue_depth`" in text


def test_a_server_error_is_retried_and_a_refusal_is_not() -> None:
    answers = iter([503, 429, 200])
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(next(answers), text="ok")

    notifier(httpx.MockTransport(handler)).notify(AlertNotice(ALERT, "firing"))
    assert len(sent) == 3

    refused: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        refused.append(request)
        return httpx.Response(400, text="invalid_payload")

    with pytest.raises(AlertNotDelivered, match="HTTP 400: invalid_payload"):
        notifier(httpx.MockTransport(refuse)).notify(AlertNotice(ALERT, "firing"))
    assert len(refused) == 1


def test_the_webhook_url_shows_in_no_error_and_no_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    caplog.set_level(logging.DEBUG)
    with pytest.raises(AlertNotDelivered) as refused:
        notifier(httpx.MockTransport(unreachable)).notify(AlertNotice(ALERT, "firing"))
    assert "very-secret-part" not in refused.value.message
    assert "ConnectError" in refused.value.message and "3 attempt(s)" in refused.value.message

    with notifier(httpx.MockTransport(lambda _: httpx.Response(200))) as sender:
        sender.notify(AlertNotice(ALERT, "firing"))
        assert "very-secret-part" not in repr(sender)
    assert "HTTP Request: POST" in caplog.text  # httpx logged the request ...
    assert "very-secret-part" not in caplog.text  # ... without the URL
