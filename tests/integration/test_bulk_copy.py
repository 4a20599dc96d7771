"""store/bulk.py on PostgreSQL: ``insert_many`` loads with COPY and stores what an executemany
of the table's INSERT stores; a batch's events marked in one statement as MARK_INBOX marks them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError

from returnbridge.store import bulk
from returnbridge.store import queries as q
from returnbridge.store.tables import inbox

pytestmark = pytest.mark.postgres

meta = MetaData()
items = Table(
    "items",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False, unique=True),
    Column("body", Text),
    Column("flag", Boolean, nullable=False),
    Column("at", DateTime(timezone=True)),
    Column("count", Integer, nullable=False, default=7),  # a Python-side default
)

T0 = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=UTC)
# What COPY's text format must escape: tabs, newlines, backslashes, "\N", quotes, non-ASCII.
AWKWARD = ["a\tb", "line\nbreak\r", "back\\slash", "\\N", 'it\'s "quoted"', "ünï ✓", ""]


def _rows(n: int, with_count: bool) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "name": f"item-{i}",
            "body": None if i % 4 == 0 else AWKWARD[i % len(AWKWARD)],
            "flag": i % 2 == 0,
            "at": None if i % 5 == 0 else T0 + timedelta(seconds=i, microseconds=i),
        }
        if with_count:
            row["count"] = i
        rows.append(row)
    return rows


def _stored(url: str, copy: bool, with_count: bool) -> list[Any]:
    engine = create_engine(url)
    meta.drop_all(engine)
    meta.create_all(engine)
    try:
        with engine.begin() as conn:
            if copy:
                bulk.insert_many(conn, items, _rows(30, with_count))
            else:
                conn.execute(insert(items), _rows(30, with_count))
            return list(conn.execute(select(items).order_by(items.c.id)).all())
    finally:
        meta.drop_all(engine)
        engine.dispose()


@pytest.mark.parametrize("with_count", [True, False], ids=["every column", "a default left out"])
def test_copy_stores_what_an_executemany_stores(postgres_url: str, with_count: bool) -> None:
    copied = _stored(postgres_url, copy=True, with_count=with_count)
    inserted = _stored(postgres_url, copy=False, with_count=with_count)
    assert copied == inserted
    assert [row.id for row in copied] == list(range(1, 31))  # the sequence, in the rows' order
    by_name = {row.name: row for row in copied}
    assert by_name["item-1"].body == AWKWARD[1] and by_name["item-3"].body == AWKWARD[3]
    assert by_name["item-0"].body is None and by_name["item-0"].at is None
    assert by_name["item-2"].at == T0 + timedelta(seconds=2, microseconds=2)
    assert by_name["item-6"].count == (6 if with_count else 7)


@pytest.fixture
def items_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on a fresh database holding the ``items`` table."""
    engine = create_engine(postgres_url)
    meta.create_all(engine)
    yield engine
    meta.drop_all(engine)
    engine.dispose()


def test_insert_many_goes_through_copy_on_postgresql(items_engine: Engine) -> None:
    with items_engine.connect() as conn:
        plan = bulk._copy_plan(conn, items, ("name", "body", "flag", "at"))
        assert plan is not None and plan.sql.startswith("COPY items (")
        # a key that is no column of the table is SQLAlchemy's to refuse
        assert bulk._copy_plan(conn, items, ("name", "nope")) is None


def test_a_key_taken_meanwhile_is_sqlalchemys_integrity_error(items_engine: Engine) -> None:
    with pytest.raises(IntegrityError), items_engine.begin() as conn:
        bulk.insert_many(conn, items, _rows(3, True) + _rows(1, True))  # item-0 twice
    with items_engine.connect() as conn:  # the transaction rolled back whole
        assert conn.execute(select(items)).all() == []


def test_one_statement_marks_events_as_an_executemany_does(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    inbox.create(engine)
    pending = [
        {"source": "zigzag", "event_id": f"e{i}", "event_type": "return.received",
         "case_key": f"zz:{i}", "received_at": T0, "payload": "{}", "status": "pending",
         "attempts": i % 2, "duplicates": 0}
        for i in range(8)
    ]  # fmt: skip
    marks = [
        {"inbox_id": i, "status": "processed", "now": T0 + timedelta(milliseconds=i),
         "error": None, "worker": f"host:{i % 3}"}
        for i in range(1, 9)
    ]  # fmt: skip
    try:
        stored = []
        for one_statement in (True, False):
            with engine.begin() as conn:
                conn.execute(inbox.delete())
                conn.exec_driver_sql("ALTER SEQUENCE inbox_id_seq RESTART WITH 1")
                conn.execute(insert(inbox), pending)
                conn.execute(inbox.update().where(inbox.c.id == 1).values(error="before"))
                if one_statement:
                    conn.execute(q.MARK_PROCESSED_ARRAYS, {
                        "ids": [m["inbox_id"] for m in marks[:6]],
                        "ats": [m["now"] for m in marks[:6]],
                        "workers": [m["worker"] for m in marks[:6]],
                    })  # fmt: skip
                else:
                    conn.execute(q.MARK_INBOX, marks[:6])
                stored.append(conn.execute(select(inbox).order_by(inbox.c.id)).all())
        assert stored[0] == stored[1]
        by_id = {row.id: row for row in stored[0]}
        assert by_id[2].status == "processed" and by_id[2].attempts == 2
        assert by_id[2].processed_by == "host:2" and by_id[1].error is None
        assert by_id[7].status == "pending" and by_id[7].processed_at is None  # not in the batch
    finally:
        inbox.drop(engine)
        engine.dispose()
