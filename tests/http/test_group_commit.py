"""Group commit of webhook deliveries: the records queued together are stored in one
transaction, each request is answered only after the commit that holds its event, a commit
that fails answers every request of its batch 5xx with nothing stored, and one record that
cannot be stored does not keep the others of its batch out."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from webhook_support import NOW, Service, as_body, exception_rows, inbox_rows, post, received

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.connectors.zigzag.webhooks import delivery_record
from returnbridge.domain.errors import StoreUnavailable
from returnbridge.entrypoints.http import inbox_writer
from returnbridge.entrypoints.http.inbox_writer import InboxWriter, Outcome
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import InboxRecord, Store
from returnbridge.store.migrate import upgrade

pytestmark = pytest.mark.integration


@pytest.fixture
def rb(sqlite_url: str) -> Iterator[App]:
    app = bootstrap(Settings(database_url=sqlite_url), clock=lambda: NOW)
    upgrade(app.engine)
    yield app
    app.close()


def record(event_id: str, **fields: Any) -> InboxRecord:
    return delivery_record(as_body(received(event_id, **fields)).decode(), f"msg_{event_id}")


def store_together(writer: InboxWriter, records: Sequence[InboxRecord]) -> list[Any]:
    """Hand every record to the writer at once, as simultaneous requests do."""

    async def together() -> list[Outcome | BaseException]:
        return await asyncio.gather(*(writer.store(r) for r in records), return_exceptions=True)

    return asyncio.run(together())


def fail_commits(engine: Engine) -> Any:
    """Every commit on ``engine`` fails as a full disk fails it, until the listener goes."""

    def refuse(_conn: Any) -> None:
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database or disk is full"))

    event.listen(engine, "commit", refuse)
    return refuse


def test_requests_queued_together_are_stored_in_one_transaction(rb: App) -> None:
    writer = InboxWriter(rb.engine, rb.clock, hard_limit=1_000)
    outcomes = store_together(writer, [record(f"evt-{n}") for n in range(50)])
    assert outcomes == ["accepted"] * 50
    assert writer.commits == 1
    assert len(inbox_rows(rb)) == 50


def test_duplicates_in_a_batch_and_of_stored_events_are_stored_once_and_counted(rb: App) -> None:
    writer = InboxWriter(rb.engine, rb.clock, hard_limit=1_000)
    assert store_together(writer, [record("evt-0")]) == ["accepted"]
    batch = [record("evt-1"), record("evt-0"), record("evt-1"), record("evt-1")]
    assert store_together(writer, batch) == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert {r["event_id"]: r["duplicates"] for r in inbox_rows(rb)} == {"evt-0": 1, "evt-1": 2}


def test_a_batch_leaves_the_same_inbox_and_exceptions_as_ingest(
    rb: App, sqlite_url: str, tmp_path: Any
) -> None:
    """Unreadable records open their INVALID_EVENT as ``pipeline.ingest`` does."""
    records = [
        record("evt-1"),
        record("evt-2", dcWarehouse=None),  # breaks the rules: kept raw
        record("evt-2", dcWarehouse=None),  # the same again: a duplicate
        record("evt-3"),
    ]
    writer = InboxWriter(rb.engine, rb.clock, hard_limit=1_000)
    assert store_together(writer, records) == ["accepted", "invalid", "duplicate", "accepted"]
    other = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'ingest.db'}"))
    upgrade(other.engine)
    try:
        with other.stores() as store:
            ingest(store, records, NOW)
        drop = ("id", "inbox_id", "received_at", "opened_at", "created_at")

        def rows(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{k: v for k, v in r.items() if k not in drop} for r in found]

        assert rows(inbox_rows(rb)) == rows(inbox_rows(other))
        assert rows(exception_rows(rb)) == rows(exception_rows(other))
        assert len(exception_rows(rb)) == 1
    finally:
        other.close()


def test_a_commit_that_fails_fails_every_request_of_its_batch_and_stores_nothing(rb: App) -> None:
    writer = InboxWriter(rb.engine, rb.clock, hard_limit=1_000)
    refuse = fail_commits(rb.engine)
    outcomes = store_together(writer, [record(f"evt-{n}") for n in range(10)])
    assert all(isinstance(o, StoreUnavailable) for o in outcomes), outcomes
    assert inbox_rows(rb) == []
    event.remove(rb.engine, "commit", refuse)
    assert store_together(writer, [record("evt-1")]) == ["accepted"]


def test_a_record_that_cannot_be_stored_does_not_keep_the_others_of_its_batch_out(
    rb: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = inbox_writer.ingest_each

    def poisoned(store: Store, records: Sequence[InboxRecord], now: datetime) -> list[int | None]:
        if any(r.event_id == "poison" for r in records):
            raise ValueError("a record no database takes")
        return real(store, records, now)

    monkeypatch.setattr(inbox_writer, "ingest_each", poisoned)
    writer = InboxWriter(rb.engine, rb.clock, hard_limit=1_000)
    outcomes = store_together(writer, [record("evt-1"), record("poison"), record("evt-2")])
    assert outcomes[0] == outcomes[2] == "accepted"
    assert isinstance(outcomes[1], ValueError)
    assert [r["event_id"] for r in inbox_rows(rb)] == ["evt-1", "evt-2"]


def test_over_http_a_failed_commit_answers_every_waiting_request_500_never_202(
    service: Service,
) -> None:
    refuse = fail_commits(service.rb.engine)

    def deliver(n: int) -> httpx.Response:
        with httpx.Client(base_url=service.running.url, timeout=30) as client:
            return post(client, as_body(received(f"evt-{n}")), f"msg_{n}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(deliver, range(16)))
    assert {a.status_code for a in answers} == {500}
    assert {a.json()["code"] for a in answers} == {"store_unavailable"}
    assert inbox_rows(service.rb) == []
    event.remove(service.rb.engine, "commit", refuse)
    with ThreadPoolExecutor(max_workers=8) as pool:  # the senders retry: every event lands once
        answers = list(pool.map(deliver, range(16)))
    assert {a.status_code for a in answers} == {202}
    assert sorted(r["event_id"] for r in inbox_rows(service.rb)) == sorted(
        f"evt-{n}" for n in range(16)
    )
