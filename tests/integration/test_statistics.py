"""Planner statistics: a long drain refreshes those of the tables it grows (PostgreSQL), where
autovacuum does not (it may be off, or behind a bulk drain)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pipeline_support import full_return, send
from sqlalchemy import text

from returnbridge.bootstrap import App
from returnbridge.services import pipeline
from returnbridge.store.sql import SqlStore


@pytest.mark.postgres
def test_stale_tables_are_analyzed_once(
    app_factory: Callable[[str], App], postgres_url: str
) -> None:
    rb = app_factory(postgres_url)
    with rb.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO inbox (source, event_id, event_type, case_key, received_at, payload,"
            " status, attempts, duplicates)"
            " SELECT 'zigzag', 'e' || n, 'return.registered', 'zz:' || n, now(), '{}',"
            " 'processed', 1, 0 FROM generate_series(1, 1500) AS n"
        ))  # fmt: skip
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
    with rb.engine.begin() as conn:
        analyzed = SqlStore(conn).refresh_statistics()
    assert "inbox" in analyzed and "return_cases" not in analyzed  # 1,500 changed rows; none
    with rb.engine.connect() as conn:
        planned = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'inbox'")
        ).scalar()
        assert planned == 1500  # the planner now knows the table's size
    with rb.engine.begin() as conn:
        assert "inbox" not in SqlStore(conn).refresh_statistics()  # fresh: nothing to do


def test_sqlite_keeps_no_statistics(app_factory: Callable[[str], App], sqlite_url: str) -> None:
    rb = app_factory(sqlite_url)
    with rb.engine.begin() as conn:
        assert SqlStore(conn).refresh_statistics() == []
        assert conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).scalar() == 0  # fmt: skip


def test_a_drain_checks_the_statistics_every_so_many_events(
    rb: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[int] = []
    refresh = SqlStore.refresh_statistics

    def counted(self: SqlStore) -> list[str]:
        checks.append(1)
        return refresh(self)

    monkeypatch.setattr(SqlStore, "refresh_statistics", counted)
    rb.processor.batch_size = 5
    events = [e for n in range(6) for e in full_return(f"R{n}", "CAS-123-BLK-M", "A", "RESTOCK")]
    monkeypatch.setattr(pipeline, "STATISTICS_EVERY", 1_000)
    send(rb, *events[:15])  # ingests, then drains
    assert checks == []  # fewer events than the interval: no check
    monkeypatch.setattr(pipeline, "STATISTICS_EVERY", 10)
    send(rb, *events[15:])
    # once per 10 events applied at least (a batch may take more than one interval's worth)
    assert 1 <= len(checks) <= len(events) // 10
    with rb.stores() as store:
        assert store.inbox_pending() == 0
