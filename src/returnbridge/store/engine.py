"""Engines for SQLite (the embedded default) and PostgreSQL, configured for this workload."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite gets WAL, a busy timeout and enforced foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    # A worker's claimed events are locked by its transaction; if its machine vanishes without
    # closing the connection, TCP keepalives let the server end the session (and free the
    # events) within about half a minute instead of the kernel's two hours.
    connect_args = {**_KEEPALIVES, **kwargs.pop("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
               "keepalives_count": 3}  # fmt: skip


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide where transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Up to 64 MiB of page cache per connection (the default is 2 MiB), filled only as pages
    # are read: a large inbox's index pages stay in memory instead of being read again through
    # the OS on every batch (the benchmark's drain of 100,000 events peaks at about 165 MiB).
    cursor.execute("PRAGMA cache_size=-65536")
    # Copy the write-ahead log back into the database every 10,000 pages (about 40 MiB), not
    # every 1,000: a page written by many batches in between (an index's, the inbox's) is
    # copied once, and the commits that run a checkpoint are a tenth as many.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Take the write lock up front: a transaction that reads, then writes, never finds the
    # database changed under it, and a second writer waits (busy_timeout) instead of failing.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
