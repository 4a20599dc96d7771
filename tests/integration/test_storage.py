"""The schema history and the inbox, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from returnbridge.bootstrap import App
from returnbridge.services.ports import InboxRecord
from returnbridge.store.engine import make_engine
from returnbridge.store.migrate import downgrade, upgrade
from returnbridge.store.tables import metadata


def test_upgrading_an_empty_database_gives_exactly_the_declared_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )
    engine.dispose()
    assert differences == []


def test_the_history_downgrades_to_nothing_and_upgrades_again(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert "inbox" in inspect(engine).get_table_names()
    engine.dispose()


def test_the_inbox_stores_an_event_once_and_counts_every_repeat(rb: App) -> None:
    first = InboxRecord("zigzag", "evt-1", "return.registered", "{}")
    again = InboxRecord("zigzag", "evt-1", "return.registered", "{}")
    other_source = InboxRecord("amazon", "evt-1", "refund.first_scan", "{}")
    with rb.stores() as store:
        ids = store.add_to_inbox([first, again, other_source], rb.clock())
    with rb.stores() as store:
        later = store.add_to_inbox([again], rb.clock())
        pending = store.inbox_pending()
    assert ids[0] is not None and ids[1] is None and ids[2] is not None
    assert later == [None]
    assert pending == 2
    with rb.engine.connect() as conn:
        from returnbridge.store.readmodels import summary

        figures = summary(conn)
    assert figures["events_received"] == 2
    assert figures["events_duplicate"] == 2


def test_sqlite_runs_in_wal_mode(app_factory, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    rb = app_factory(sqlite_url)
    with rb.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_an_event_is_stored_byte_for_byte_whatever_it_holds(rb: App) -> None:
    """PostgreSQL bulk-loads new rows (COPY): tabs, newlines, backslashes, quotes and
    non-ASCII text in a payload, and a missing case key, come back exactly as sent."""
    payload = '{"note": "tab\\there\\nnew line", "raw": "a\tb\nc\\\\d", "name": "Zoë ☃ \'q\'"}'
    record = InboxRecord("zigzag", "evt-\\1\t", "return.registered", payload, None)
    with rb.stores() as store:
        [inbox_id] = store.add_to_inbox([record], rb.clock())
    assert inbox_id is not None
    with rb.stores() as store:
        row = store.inbox_row(inbox_id)
        [claimed] = store.claim_inbox(10)
    assert row is not None and row.payload == payload and row.event_id == "evt-\\1\t"
    assert claimed.id == inbox_id and claimed.payload == payload
