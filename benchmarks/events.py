"""The events the benchmarks feed: a seeded ZigZag day as its JSON transports deliver it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from returnbridge.bootstrap import App
from returnbridge.connectors.zigzag.webhooks import delivery_record
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.zigzag.generator import (
    DemoDay,
    feed_events,
    generate_day,
    write_catalog,
)
from returnbridge.services.ports import InboxRecord

EVENTS_PER_RETURN = 4  # a generated return carries four to five events


def day_for(events: int, seed: int = 7) -> tuple[DemoDay, list[dict[str, Any]]]:
    """A generated day with at least ``events`` feed events, and its first ``events`` of them."""
    returns = max(1, events // EVENTS_PER_RETURN)
    day = generate_day(returns, seed)
    feed = feed_events(day)
    while len(feed) < events:
        returns = returns * 2
        day = generate_day(returns, seed)
        feed = feed_events(day)
    return day, feed[:events]


def records(feed: list[dict[str, Any]]) -> list[InboxRecord]:
    """The inbox records of ``feed``, built as a webhook delivery builds them."""
    return [delivery_record(json.dumps(e), f"msg_{n}") for n, e in enumerate(feed)]


def unique_readable(feed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``feed`` without duplicates and without unreadable events: each one is a 202."""
    seen: set[str] = set()
    kept = []
    for n, event in enumerate(feed):
        record = delivery_record(json.dumps(event), f"msg_{n}")
        if record.invalid_reason is None and record.event_id not in seen:
            seen.add(record.event_id)
            kept.append(event)
    return kept


def load_master_data(rb: App, day: DemoDay, folder: Path) -> None:
    """The day's catalog and the default mappings, as the demo loads them."""
    catalog = folder / "catalog.csv"
    write_catalog(day, catalog)
    rb.load_catalog(catalog)
    rb.load_mappings(DEFAULT_MAPPINGS)
