"""``SlackWebhookNotifier``: POST an alert notification as Slack incoming-webhook JSON.

The body is what Slack's incoming webhooks take: ``text`` (the whole message, also the fallback
for notifications and for receivers that read nothing else) and ``blocks`` with the same words.
5xx, 429 and lost connections are retried a few times with exponential backoff and full
jitter, within a short timeout; what still fails raises ``AlertNotDelivered`` and stays owed in
the ``alerts`` table for the next evaluation.

The webhook's URL is a secret (whoever has it can post to the channel): it is never put in an
error message, and httpx's own request log lines have it replaced while the notifier is open.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from returnbridge.services.alerting import AlertNotDelivered, AlertNotice

_SECTION_CHARS = 2_900  # Slack refuses a section text over 3,000 characters
_ANSWER_CHARS = 200
_HIDDEN = "[alert webhook]"


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n (from 0) waits uniform(0, min(cap, base * 2^n)) before the next one."""

    attempts: int = 3
    base_seconds: float = 0.25
    cap_seconds: float = 2.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


def _escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup: escape them in our own words."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(notice: AlertNotice, runbook_url: str = "") -> dict[str, Any]:
    """The JSON body for one notification. ``runbook_url`` is where docs/operations.md can be
    read (a web view of the repository); without it the runbook path is given as text."""
    alert = notice.alert
    _, _, anchor = alert.runbook.partition("#")
    if runbook_url:
        link = f"<{runbook_url}#{anchor}|{_escape(alert.runbook)}>"
    else:
        link = f"`{alert.runbook}`"
    when = f"since {alert.first_seen:%Y-%m-%d %H:%M} UTC"
    if notice.kind == "resolved" and alert.resolved_at is not None:
        head = f"[RESOLVED] {alert.name}"
        when = (
            f"fired {alert.first_seen:%Y-%m-%d %H:%M} UTC, "
            f"resolved {alert.resolved_at:%Y-%m-%d %H:%M} UTC"
        )
    else:
        head = f"[FIRING] {alert.name} ({alert.severity})"
    summary = _escape(alert.summary)[:_SECTION_CHARS]
    context = f"key `{_escape(alert.key)}` · {when} · runbook: {link}"
    return {
        "text": f"{head}: {summary}\n{context}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*\n{summary}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


class _HideUrl(logging.Filter):
    """Replaces the webhook's URL in httpx's log records (it logs every request's URL)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.url in message:
            record.msg, record.args = message.replace(self.url, _HIDDEN), ()
        return True


class SlackWebhookNotifier:
    """Implements ``services.alerting.AlertNotifier``; the httpx client (and its timeout) is
    the caller's. Use as a context manager, or call ``close()``, to drop the log filter."""

    def __init__(
        self,
        url: str,
        client: httpx.Client,
        *,
        runbook_url: str = "",
        retry: RetryPolicy = RetryPolicy(),
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self.client = client
        self.runbook_url = runbook_url
        self.retry = retry
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.calls = 0
        self._filter = _HideUrl(url)
        logging.getLogger("httpx").addFilter(self._filter)

    def __repr__(self) -> str:
        return f"SlackWebhookNotifier({_HIDDEN})"

    def close(self) -> None:
        logging.getLogger("httpx").removeFilter(self._filter)

    def __enter__(self) -> SlackWebhookNotifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def notify(self, notice: AlertNotice) -> None:
        body = slack_message(notice, self.runbook_url)
        last, tried = "", 0
        for attempt in range(self.retry.attempts):
            if attempt:
                self.sleep(self.retry.delay(attempt - 1, self.rng))
            self.calls += 1
            tried += 1
            try:
                answer = self.client.post(self._url, json=body)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                last = type(exc).__name__  # its text may carry the URL: the type says enough
                continue
            if answer.is_success:
                return
            last = f"HTTP {answer.status_code}: {answer.text[:_ANSWER_CHARS]}".replace(
                self._url, _HIDDEN
            )
            if answer.status_code != 429 and answer.status_code < 500:
                break  # refused as sent: the same body again would be refused again
        raise AlertNotDelivered(
            f"the alert webhook did not take {notice.kind} {notice.alert.key} "
            f"after {tried} attempt(s) ({last})"
        )
