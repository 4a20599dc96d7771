"""Counts ``/metrics`` reports, read from the database so every process reports the same:
queue depths and open exceptions (each scrape; also read by the alert rules), the inbox's
events by how they ended, and what the clearing cycles' requests to Amazon cost."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from returnbridge.store.tables import clearing_cycles, exceptions, inbox, outbox

INBOX_ENDED = ("processed", "invalid", "failed")  # the inbox statuses an event ends in


@dataclass(frozen=True)
class QueueGauges:
    inbox_pending: int
    outbox_pending: dict[str, int]  # per topic
    open_exceptions: dict[str, int]  # per code


@dataclass(frozen=True)
class AmazonTotals:
    """Summed over every clearing cycle recorded (cycles before migration 0010 count none)."""

    requests: int = 0  # submission requests sent, retries included
    retries: int = 0
    throttled: int = 0  # answered 429 "too many requests"
    items_rejected: int = 0


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


def inbox_ended(conn: Connection) -> dict[str, int]:
    """Inbox events per status they ended in (every one of ``INBOX_ENDED``, zeros included).
    Reads the whole status index: its cost grows with the inbox."""
    rows = conn.execute(
        select(inbox.c.status, func.count())
        .where(inbox.c.status.in_(INBOX_ENDED))
        .group_by(inbox.c.status)
    )
    found = {str(status): int(n) for status, n in rows}
    return {status: found.get(status, 0) for status in INBOX_ENDED}


def amazon_totals(conn: Connection) -> AmazonTotals:
    """One pass over the cycles (a row per cycle: small)."""
    c = clearing_cycles.c
    row = conn.execute(
        select(
            func.coalesce(func.sum(c.amazon_requests), 0),
            func.coalesce(func.sum(c.amazon_retries), 0),
            func.coalesce(func.sum(c.amazon_throttled), 0),
            func.coalesce(func.sum(c.items_rejected), 0),
        )
    ).one()
    return AmazonTotals(*(int(n) for n in row))
