"""Polling ZigZag's feed: the same inbox as the CSV export, and no page skipped or doubled."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine
from zigzag_support import (
    MakeApp,
    MakeClient,
    StartZigZag,
    exception_codes,
    inbox_rows,
    stored_cursor,
)

from returnbridge.bootstrap import App
from returnbridge.connectors.zigzag.polling import (
    FEED,
    FeedStore,
    FeedStores,
    PollResult,
    ZigZagFeedClient,
    ZigZagUnavailable,
    poll_feed,
)
from returnbridge.entrypoints.cli.pipeline import import_zigzag_file
from returnbridge.sandboxes.zigzag import day_deliveries
from returnbridge.sandboxes.zigzag.generator import generate_day, write_export
from returnbridge.store.feeds import feed_transaction

pytestmark = pytest.mark.integration

SEED, RETURNS = 11, 300


def poll(rb: App, client: ZigZagFeedClient) -> PollResult:
    engine = rb.engine
    return poll_feed(client, lambda: feed_transaction(engine), rb.clock)


def original_id(row: dict[str, object]) -> str:
    """An unreadable event's key is its id plus a digest of its raw text, which differs by
    transport (a CSV row, a JSON object); the id before the digest does not."""
    return str(row["event_id"]).split("#unreadable-")[0]


def test_the_three_transports_carry_the_same_events_in_the_same_order(tmp_path: Path) -> None:
    day = generate_day(RETURNS, SEED)
    deliveries = day_deliveries(day)
    export = tmp_path / "export.csv"
    write_export(day, export)

    with export.open(newline="", encoding="utf-8") as handle:
        assert [tuple(r) for r in csv.reader(handle)] == list(deliveries.csv_rows)
    assert [m.event for m in deliveries.webhooks] == list(deliveries.feed)
    assert [m.msg_id for m in deliveries.webhooks] == [e["id"] for e in deliveries.feed]
    csv_ids = list(dict.fromkeys(row[0] for row in deliveries.csv_rows[1:]))
    assert csv_ids == list(dict.fromkeys(e["id"] for e in deliveries.feed))
    assert len(deliveries.feed) == len(day.events) + len(day.bad_rows)


def test_polling_a_day_stores_the_same_inbox_as_importing_its_csv_export(
    db_url: str,
    tmp_path: Path,
    zigzag: StartZigZag,
    feed_client: MakeClient,
    app_factory: MakeApp,
) -> None:
    running = zigzag(seed=SEED, returns=RETURNS)
    polled = app_factory(db_url)
    imported = app_factory(f"sqlite:///{tmp_path}/csv.db")
    export = tmp_path / "export.csv"
    write_export(generate_day(RETURNS, SEED), export)

    by_csv = import_zigzag_file(imported, export)
    by_feed = poll(polled, feed_client(running, page_size=97))

    assert (by_feed.accepted, by_feed.duplicates, by_feed.invalid) == (
        by_csv.accepted,
        by_csv.duplicates,
        by_csv.invalid,
    )
    assert by_feed.invalid == 3 and by_feed.duplicates > 0
    feed_rows, csv_rows = inbox_rows(polled), inbox_rows(imported)
    readable = [r for r in feed_rows if r["status"] != "invalid"]
    assert readable == [r for r in csv_rows if r["status"] != "invalid"]
    assert [original_id(r) for r in feed_rows] == [original_id(r) for r in csv_rows]
    assert exception_codes(polled) == exception_codes(imported) == ["INVALID_EVENT"] * 3
    assert stored_cursor(polled, FEED) == by_feed.cursor
    assert by_feed.pages == -(-len(running.sandbox.feed) // 97)


def test_polling_again_stores_nothing_new_and_keeps_the_cursor(
    sqlite_url: str, zigzag: StartZigZag, feed_client: MakeClient, app_factory: MakeApp
) -> None:
    running = zigzag(returns=20)
    rb = app_factory(sqlite_url)
    first = poll(rb, feed_client(running, page_size=25))

    again = poll(rb, feed_client(running, page_size=25))

    assert again.pages == again.events == 0
    assert again.cursor == first.cursor == stored_cursor(rb, FEED)


class Crash(Exception):
    pass


def crashing_on_page(engine: Engine, page: int) -> FeedStores:
    """A store factory whose ``save_cursor`` raises on the ``page``-th page, after the page's
    events were written in the same transaction: a crash before the commit."""
    saved = 0

    @contextmanager
    def stores() -> Iterator[FeedStore]:
        with feed_transaction(engine) as store:
            original = store.save_cursor

            def save_cursor(feed: str, cursor: str, now: datetime) -> None:
                nonlocal saved
                saved += 1
                original(feed, cursor, now)
                if saved == page:
                    raise Crash(f"killed while committing page {page}")

            store.save_cursor = save_cursor  # type: ignore[method-assign]
            yield store

    return stores


def test_a_crash_before_a_page_commits_neither_skips_nor_doubles_it(
    db_url: str,
    tmp_path: Path,
    zigzag: StartZigZag,
    feed_client: MakeClient,
    app_factory: MakeApp,
) -> None:
    running = zigzag(seed=5, returns=40)
    rb = app_factory(db_url)
    client = feed_client(running, page_size=30)

    with pytest.raises(Crash):
        poll_feed(client, crashing_on_page(rb.engine, page=2), rb.clock)
    after_crash = inbox_rows(rb)
    cursor_after_crash = stored_cursor(rb, FEED)
    resumed = poll(rb, client)

    reference = app_factory(f"sqlite:///{tmp_path}/reference.db")
    clean = poll(reference, feed_client(running, page_size=30))
    assert 0 < len(after_crash) <= 30  # the first page only: the second rolled back
    assert cursor_after_crash is not None and cursor_after_crash != clean.cursor
    assert inbox_rows(rb) == inbox_rows(reference)  # same rows, same order, same counts
    assert stored_cursor(rb, FEED) == stored_cursor(reference, FEED) == clean.cursor
    assert len(after_crash) + resumed.accepted + resumed.invalid == clean.accepted + clean.invalid
    assert resumed.duplicates == clean.duplicates - sum(r["duplicates"] for r in after_crash)


def test_the_client_retries_server_errors_with_backoff(
    zigzag: StartZigZag, feed_client: MakeClient
) -> None:
    running = zigzag(returns=30, api_error_rate=0.4, seed=3)
    sleeps: list[float] = []
    client = feed_client(running, page_size=10, max_attempts=10, sleep=sleeps.append)
    events, cursor = 0, None
    while page := client.fetch_page(cursor):
        if not page.events:
            break
        events, cursor = events + len(page.events), page.next_cursor

    assert events == len(running.sandbox.feed)
    assert client.counters.retries == running.sandbox.counters.injected_errors > 0
    assert len(sleeps) == client.counters.retries and all(s >= 0 for s in sleeps)


def test_the_client_gives_up_on_an_unreachable_api_by_name(feed_client: MakeClient) -> None:
    nowhere = SimpleNamespace(url="http://127.0.0.1:9")
    client = feed_client(nowhere, max_attempts=3)
    with pytest.raises(ZigZagUnavailable, match=r"POST /token: no answer .* after 3 attempts"):
        client.fetch_page(None)
    assert client.counters.retries == 2
