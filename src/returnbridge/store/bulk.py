"""One statement over many rows (executemany), with SQLAlchemy's parameter work done once.

For every row of an executemany, SQLAlchemy builds the row's parameters afresh: it walks the
compiled statement's bind parameters, looks each value up, runs its type's bind processor and
builds a positional tuple (on SQLite, a fifth of a batch's CPU). ``execute_many`` compiles the
statement once per shape, keeps where each value comes from and which processor it needs, and
hands the driver plain tuples: the same SQL, the same values, converted by the same processors,
so the rows stored are identical. A statement this cannot plan for exactly (a column with a
Python-side default or onupdate, an IN list, or a driver that does not take positional
parameters) goes through ``Connection.execute`` unchanged.

``insert_many`` inserts rows into a table: on PostgreSQL with ``COPY``, its bulk load (an
executemany there sends one ``INSERT`` per row, each parsed, planned and executed on its own by
the server: most of a worker's wait on the database), elsewhere with ``execute_many``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, insert
from sqlalchemy.exc import DBAPIError

_FROM_ROW = object()
P = TypeVar("P")


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
    plan = _cached(_plans, _plan, conn, statement, tuple(rows[0]))
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


def _cached(
    cache: dict[tuple[Any, str, tuple[str, ...]], P | None],
    make: Callable[[Connection, Any, tuple[str, ...]], P | None],
    conn: Connection,
    target: Any,
    keys: tuple[str, ...],
) -> P | None:
    """The plan for ``target`` with these row keys on this dialect, made once."""
    cache_key = (target, conn.dialect.name, keys)
    if cache_key not in cache:
        cache[cache_key] = make(conn, target, keys)
    return cache[cache_key]


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


# ----------------------------------------------------------------------- insert_many
@dataclass(frozen=True)
class _CopyPlan:
    sql: str
    # per column: the row's key (or None for a constant default) and its bind processor
    slots: tuple[tuple[str | None, Callable[[Any], Any] | None, Any], ...]


_copy_plans: dict[tuple[Table, str, tuple[str, ...]], _CopyPlan | None] = {}


@cache
def insert_into(table: Table) -> Any:
    """The plain INSERT of a table, built once (SQLAlchemy caches statements by identity)."""
    return insert(table)


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table``, in order: ids drawn by the
    table's own sequence follow the rows' order, as an executemany's do."""
    if not rows:
        return
    plan = _cached(_copy_plans, _copy_plan, conn, table, tuple(rows[0]))
    if plan is None:
        execute_many(conn, insert_into(table), rows)
        return
    slots = plan.slots
    copy_rows(
        conn,
        plan.sql,
        (
            tuple(
                (process(row[key]) if process else row[key]) if key is not None else const
                for key, process, const in slots
            )
            for row in rows
        ),
    )


def copy_rows(conn: Connection, sql: str, rows: Any) -> None:
    """``COPY ... FROM STDIN`` the tuples ``rows`` on this transaction's connection
    (PostgreSQL). SQLAlchemy has no COPY, so the driver's errors are raised as SQLAlchemy's
    would be: a unique key taken meanwhile is an ``IntegrityError``, a lost server an
    ``OperationalError``."""
    raw: Any = conn.connection.driver_connection
    dbapi = conn.dialect.loaded_dbapi
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error, dialect=conn.dialect) from exc


def _copy_plan(conn: Connection, table: Table, keys: tuple[str, ...]) -> _CopyPlan | None:
    dialect = conn.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return None
    if not set(keys) <= set(table.columns.keys()):
        return None  # a key that is not a column: let SQLAlchemy say so
    slots: list[tuple[str | None, Callable[[Any], Any] | None, Any]] = []
    names = []
    for column in table.columns:
        process = column.type._cached_bind_processor(dialect)
        if column.key in keys:
            slots.append((column.key, process, None))
        elif column.default is not None:
            if not column.default.is_scalar:
                return None  # computed in Python per row: SQLAlchemy's own path
            value = column.default.arg  # type: ignore[attr-defined]
            slots.append((None, None, process(value) if process else value))
        else:
            continue  # the server's default (a serial id, a server_default) or NULL
        names.append(dialect.identifier_preparer.quote(column.name))
    sql = f"COPY {dialect.identifier_preparer.format_table(table)} ({', '.join(names)}) FROM STDIN"
    return _CopyPlan(sql, tuple(slots))
