"""One day, three transports: the CSV export (SFTP drop), the polling feed and the webhooks.

All three carry the same events in the same order: the generator's delivery order (late, early,
duplicated) with the day's bad rows at the same places. A bad CSV row travels the JSON
transports as the same event broken the same way (``generator.bad_event``). So importing the
export, polling the feed and receiving the webhooks of one seed must leave the same inbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from returnbridge.sandboxes.zigzag.generator import (
    CSV_COLUMNS,
    DemoDay,
    bad_row_positions,
    export_rows,
    feed_events,
)


@dataclass(frozen=True)
class WebhookMessage:
    """One webhook delivery: its Standard Webhooks ``webhook-id`` and the JSON body sent."""

    msg_id: str
    """The event's own ``id``: a re-sent (duplicate) event carries the same id."""
    body: str
    event: dict[str, Any]


@dataclass(frozen=True)
class DayDeliveries:
    """The same day as each transport delivers it, in delivery order."""

    csv_rows: tuple[tuple[str, ...], ...]
    """The export, header first, exactly as ``generator.write_export`` writes it."""
    feed: tuple[dict[str, Any], ...]
    """The polling feed's events, page after page."""
    webhooks: tuple[WebhookMessage, ...]
    """One webhook per feed event, same order (first attempts; retries come on top)."""


def webhook_body(event: dict[str, Any]) -> str:
    """The JSON text a webhook carries for ``event`` (also what its signature covers)."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


def webhook_message(event: dict[str, Any], index: int) -> WebhookMessage:
    """``event`` as a webhook; an event without a usable ``id`` gets one from its position."""
    msg_id = event.get("id")
    if not isinstance(msg_id, str) or not msg_id:
        msg_id = f"zz-msg-{index}"
    return WebhookMessage(msg_id, webhook_body(event), event)


def export_table(day: DemoDay) -> Iterator[tuple[str, ...]]:
    """The export's rows, header first, in the order ``write_export`` writes them."""
    positions = bad_row_positions(day)
    yield tuple(CSV_COLUMNS)
    for index, event in enumerate(day.events):
        for row in export_rows(event):
            yield tuple(row)
        for bad in positions.get(index, ()):
            yield tuple(bad)


def day_deliveries(day: DemoDay) -> DayDeliveries:
    """The day's deliveries per transport."""
    feed = tuple(feed_events(day))
    return DayDeliveries(
        csv_rows=tuple(export_table(day)),
        feed=feed,
        webhooks=tuple(webhook_message(event, i) for i, event in enumerate(feed)),
    )
