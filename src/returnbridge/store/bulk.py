"""One statement over many rows (executemany), with SQLAlchemy's parameter work done once.

For every row of an executemany, SQLAlchemy builds the row's parameters afresh: it walks the
compiled statement's bind parameters, looks each value up, runs its type's bind processor and
builds a positional tuple (on SQLite, a fifth of a batch's CPU). ``execute_many`` compiles the
statement once per shape, keeps where each value comes from and which processor it needs, and
hands the driver plain tuples: the same SQL, the same values, converted by the same processors,
so the rows stored are identical. A statement this cannot plan for exactly (a column with a
Python-side default or onupdate, an IN list, or a driver that does not take positional
parameters) goes through ``Connection.execute`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

_FROM_ROW = object()


@dataclass(frozen=True)
class _Plan:
    sql: str
    # per position: the row's key, its bind processor (or None), or a constant of the statement
    slots: tuple[tuple[str, Callable[[Any], Any] | None, Any], ...]


_plans: dict[tuple[Any, str, tuple[str, ...]], _Plan | None] = {}


def execute_many(conn: Connection, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Execute ``statement`` once per row of ``rows`` (all with the same keys)."""
    if not rows:
        return
    keys = tuple(rows[0])
    cache_key = (statement, conn.dialect.name, keys)
    if cache_key not in _plans:
        _plans[cache_key] = _plan(conn, statement, keys)
    plan = _plans[cache_key]
    if plan is None:
        conn.execute(statement, list(rows))
        return
    slots = plan.slots
    params = [
        tuple(
            (process(row[name]) if process else row[name]) if const is _FROM_ROW else const
            for name, process, const in slots
        )
        for row in rows
    ]
    conn.exec_driver_sql(plan.sql, params)


def _plan(conn: Connection, statement: Any, keys: tuple[str, ...]) -> _Plan | None:
    dialect = conn.dialect
    if dialect.paramstyle != "qmark":
        return None
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.positiontup is None:
        return None
    if any(b.expanding or b.literal_execute for b in compiled.binds.values()):
        return None  # an IN list is rendered per execution: SQLAlchemy's own path
    processors = compiled._bind_processors
    slots = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        if name in keys:
            slots.append((name, processors.get(name), _FROM_ROW))
        elif bind.callable is None and not bind.required:
            value = bind.value
            process = processors.get(name)
            slots.append((name, None, process(value) if process else value))
        else:
            return None
    return _Plan(compiled.string, tuple(slots))
