"""store/bulk.py: an executemany with the parameter work done once stores what SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.exc import StatementError

from returnbridge.store import bulk

meta = MetaData()
things = Table(
    "things",
    meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("at", DateTime(timezone=True)),
    Column("count", Integer, nullable=False),
    Column("state", String(10), nullable=False),
)
defaulted = Table(
    "defaulted",
    meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("count", Integer, nullable=False, default=7),  # a Python-side default
)

BUMP = (
    update(things)
    .where(things.c.id == bindparam("thing_id"), things.c.state == "open")
    .values(count=things.c.count + 1, at=bindparam("now"), state=bindparam("new_state"))
)

T0 = datetime(2026, 12, 3, 9, 30, 15, 123456, tzinfo=UTC)


def _rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i + 1,
            "name": f"thing-{i} ünï 'q' \t",
            "flag": i % 2 == 0,
            "at": None if i % 5 == 0 else T0 + timedelta(seconds=i),
            "count": i,
            "state": "open" if i % 3 else "closed",
        }
        for i in range(n)
    ]


def _run(fast: bool) -> tuple[list[Any], list[Any]]:
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    rows = _rows(40)
    bumps = [
        {"thing_id": i, "now": T0 + timedelta(days=1), "new_state": "done"} for i in (1, 2, 3, 4)
    ]
    with engine.begin() as conn:
        if fast:
            bulk.execute_many(conn, insert(things), rows)
            bulk.execute_many(conn, BUMP, bumps)
            bulk.execute_many(
                conn, insert(defaulted), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
            )
        else:
            conn.execute(insert(things), rows)
            conn.execute(BUMP, bumps)
            conn.execute(insert(defaulted), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
        stored = conn.exec_driver_sql("SELECT * FROM things ORDER BY id").all()
        typed = conn.execute(select(things).order_by(things.c.id)).all()
        assert conn.execute(select(defaulted.c.count)).scalars().all() == [7, 7]
    engine.dispose()
    return stored, typed


def test_the_rows_stored_are_the_ones_sqlalchemy_stores_byte_for_byte() -> None:
    fast_raw, fast_typed = _run(fast=True)
    slow_raw, slow_typed = _run(fast=False)
    assert fast_raw == slow_raw  # the stored text of each value, datetimes included
    assert fast_typed == slow_typed
    # the statement's own constants and expressions applied: only open rows bumped
    by_id = {row.id: row for row in fast_typed}
    assert by_id[2].state == "done" and by_id[2].count == 2  # was open, count 1
    assert by_id[1].state == "closed" and by_id[1].count == 0  # closed: untouched
    assert by_id[2].at == (T0 + timedelta(days=1)).replace(tzinfo=None)


def test_a_missing_parameter_is_an_error_not_a_null() -> None:
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.begin() as conn:
        bulk.execute_many(conn, insert(things), _rows(2))
        with pytest.raises((KeyError, StatementError)):
            bulk.execute_many(conn, BUMP, [{"thing_id": 1, "now": T0}])
    engine.dispose()


def test_nothing_to_write_runs_nothing() -> None:
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        bulk.execute_many(conn, insert(things), [])  # the table does not even exist
    engine.dispose()


def test_a_statement_with_an_in_list_goes_through_sqlalchemy() -> None:
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    close_some = (
        update(things)
        .where(things.c.id.in_(bindparam("ids", expanding=True)))
        .values(state=bindparam("new_state"))
    )
    with engine.begin() as conn:
        bulk.execute_many(conn, insert(things), _rows(5))
        bulk.execute_many(conn, close_some, [{"ids": [1, 2], "new_state": "done"}])
        states = conn.execute(select(things.c.state).order_by(things.c.id)).scalars().all()
    engine.dispose()
    assert states[:2] == ["done", "done"] and "done" not in states[2:]
