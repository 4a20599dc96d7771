"""Queue depths and open exceptions, counted now: what ``/metrics`` reports on each scrape."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from returnbridge.store.tables import exceptions, inbox, outbox


@dataclass(frozen=True)
class QueueGauges:
    inbox_pending: int
    outbox_pending: dict[str, int]  # per topic
    open_exceptions: dict[str, int]  # per code


def queue_gauges(conn: Connection) -> QueueGauges:
    """Three indexed counts (status is the leading column of each index used)."""
    inbox_pending = conn.execute(
        select(func.count()).select_from(inbox).where(inbox.c.status == "pending")
    ).scalar_one()
    by_topic = conn.execute(
        select(outbox.c.topic, func.count())
        .where(outbox.c.status == "pending")
        .group_by(outbox.c.topic)
    )
    by_code = conn.execute(
        select(exceptions.c.code, func.count())
        .where(exceptions.c.status == "open")
        .group_by(exceptions.c.code)
    )
    return QueueGauges(
        inbox_pending=int(inbox_pending),
        outbox_pending={str(topic): int(n) for topic, n in by_topic},
        open_exceptions={str(code): int(n) for code, n in by_code},
    )
