"""``SqlRfsStore``: the refund-at-first-scan view of the database (``services.rfs.RfsStore``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, select

from returnbridge.store.sql import SqlStore, transaction
from returnbridge.store.tables import case_events, inbox, return_cases

AMAZON = "amazon"


class SqlRfsStore(SqlStore):
    def refunded_cases(self) -> list[tuple[int, str]]:
        """Every case an Amazon refund event was applied to, oldest first."""
        rows = self.conn.execute(
            select(return_cases.c.id, return_cases.c.case_key)
            .where(
                return_cases.c.id.in_(
                    select(case_events.c.case_id)
                    .join(inbox, inbox.c.id == case_events.c.inbox_id)
                    .where(inbox.c.source == AMAZON)
                )
            )
            .order_by(return_cases.c.id)
        )
        return [(int(r.id), str(r.case_key)) for r in rows]


@contextmanager
def rfs_transaction(engine: Engine) -> Iterator[SqlRfsStore]:
    with transaction(engine) as store:
        yield SqlRfsStore(store.conn)
