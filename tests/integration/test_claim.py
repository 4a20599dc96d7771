"""The inbox claim with followers: a batch takes the first pending events and then the later
pending events of the same returns, each return's events a prefix in arrival order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from returnbridge.bootstrap import App
from returnbridge.services.pipeline import Processor, ingest_stream
from returnbridge.services.ports import InboxRecord
from returnbridge.store.tables import inbox

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Arrival order: the events of returns A, B and C interleaved.
ARRIVALS = ["A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3"]


def _fill(rb: App) -> dict[str, int]:
    records = [InboxRecord("zigzag", name, "t", "{}", f"zz:{name[0]}") for name in ARRIVALS]
    with rb.stores() as store:
        ids = store.add_to_inbox(records, NOW)
    return {name: i for name, i in zip(ARRIVALS, ids, strict=True) if i is not None}


def _claimed(rb: App, limit: int, followers: int) -> list[str]:
    with rb.stores() as store:
        return [row.event_id for row in store.claim_inbox(limit, followers=followers)]


def test_a_batch_takes_the_later_events_of_the_returns_it_claims(rb: App) -> None:
    _fill(rb)
    assert _claimed(rb, 2, followers=0) == ["A1", "B1"]
    assert _claimed(rb, 2, followers=10) == ["A1", "B1", "A2", "B2", "A3", "B3"]


def test_followers_are_bounded_and_each_return_stays_a_prefix(rb: App) -> None:
    _fill(rb)
    # Three followers at most: the earliest ones, so no return skips one of its events.
    assert _claimed(rb, 2, followers=3) == ["A1", "B1", "A2", "B2", "A3"]


@pytest.mark.postgres
def test_a_return_whose_next_event_another_worker_holds_is_left_to_it(
    app_factory: Callable[[str], App], postgres_url: str
) -> None:
    rb = app_factory(postgres_url)
    ids = _fill(rb)
    with rb.engine.connect() as other:
        # Another worker holds A2 (locked, not yet applied) until its transaction ends.
        with other.begin():
            other.execute(select(inbox.c.id).where(inbox.c.id == ids["A2"]).with_for_update()).all()
            # A3 is free, but applying it before A2 would break A's arrival order.
            assert _claimed(rb, 2, followers=10) == ["A1", "B1", "B2", "B3"]
        assert _claimed(rb, 2, followers=10) == ["A1", "B1", "A2", "B2", "A3", "B3"]


@pytest.mark.postgres
def test_a_bulk_import_leaves_the_inbox_analyzed(
    app_factory: Callable[[str], App], postgres_url: str
) -> None:
    """Until autovacuum gets to it, a claim on a freshly loaded inbox would be planned for an
    empty one: the import refreshes the statistics itself."""
    rb = app_factory(postgres_url)
    records = [InboxRecord("zigzag", f"e{n}", "t", "{}", f"zz:{n}") for n in range(50)]
    query = text("SELECT reltuples FROM pg_class WHERE relname = 'inbox'")
    with rb.engine.connect() as conn:
        before = conn.execute(query).scalar_one()
    result = ingest_stream(rb.stores, records, rb.clock, batch_size=20)
    with rb.engine.connect() as conn:
        after = conn.execute(query).scalar_one()
    assert result.accepted == 50
    assert before <= 0 and after == 50


def test_a_drain_with_a_limit_applies_exactly_that_many_events(rb: App) -> None:
    """The demo's cut-offs rely on it: a batch's followers never carry it past the limit."""
    _fill(rb)
    processor = Processor(rb.stores, rb.processor.decode, rb.clock, batch_size=2)
    assert processor.drain(limit=3).total == 3
    with rb.stores() as store:
        assert store.inbox_pending() == len(ARRIVALS) - 3
    assert processor.drain(limit=1).total == 1
    assert processor.drain().total == len(ARRIVALS) - 4
