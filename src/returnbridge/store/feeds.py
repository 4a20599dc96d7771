"""Where each polled feed stands: ``feed_cursors``, written in the transaction of its events.

``SqlFeedStore`` is the SQL store plus the cursor of each feed, so a poller stores a page's
events and the cursor after them in one unit of work: a crash before the commit leaves both as
they were (the page is asked for again), after it leaves both written (the page is not asked
for again). Nothing is skipped and nothing counts twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update

from returnbridge.store.sql import SqlStore, transaction
from returnbridge.store.tables import feed_cursors


def read_cursor(conn: Connection, feed: str) -> str | None:
    """The cursor to ask ``feed`` for next, or None before its first page."""
    return conn.execute(
        select(feed_cursors.c.cursor).where(feed_cursors.c.feed == feed)
    ).scalar_one_or_none()


def save_cursor(conn: Connection, feed: str, cursor: str, now: datetime) -> None:
    """Record where ``feed`` stands (in the caller's transaction)."""
    changed = conn.execute(
        update(feed_cursors)
        .where(feed_cursors.c.feed == feed)
        .values(cursor=cursor, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(insert(feed_cursors).values(feed=feed, cursor=cursor, updated_at=now))


class SqlFeedStore(SqlStore):
    """The SQL store, plus the polled feeds' cursors
    (``connectors.zigzag.polling.FeedStore``)."""

    def read_cursor(self, feed: str) -> str | None:
        return read_cursor(self.conn, feed)

    def save_cursor(self, feed: str, cursor: str, now: datetime) -> None:
        save_cursor(self.conn, feed, cursor, now)


@contextmanager
def feed_transaction(engine: Engine) -> Iterator[SqlFeedStore]:
    """One unit of work for a poller: the inbox and the feed cursors together."""
    with transaction(engine) as store:
        yield SqlFeedStore(store.conn)


__all__ = ["SqlFeedStore", "feed_transaction", "read_cursor", "save_cursor"]
