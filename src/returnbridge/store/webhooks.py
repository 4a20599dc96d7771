"""Refused webhook deliveries (``webhook_rejections``): kept raw, newest ``KEEP`` only.

A delivery refused before it reaches the inbox (bad or missing signature, stale timestamp, too
large, webhooks not configured) is not an event: storing it in the inbox would let anyone fill
the inbox with forged requests. It is kept here instead, body and all (cut at the size limit),
so a person can see what was refused and why. The table is a bounded log: each write drops the
rows older than the newest ``KEEP``, so a flood of forgeries costs at most ``KEEP`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select

from returnbridge.store.sql import aware, transaction
from returnbridge.store.tables import inbox, webhook_rejections

KEEP = 10_000

# The inbox's pending events, counted on the ``ix_inbox_status_id`` index (the webhook's hard
# limit reads it at most about once a second: ``entrypoints/http/inbox_writer.py``).
COUNT_PENDING = select(func.count()).select_from(inbox).where(inbox.c.status == "pending")


@dataclass(frozen=True)
class Rejection:
    """One refused delivery, as the HTTP entrypoint saw it."""

    source: str
    status: int
    code: str
    reason: str
    size: int  # bytes received, or the declared Content-Length when larger
    truncated: bool  # the body was cut at the size limit
    body: str  # as received; undecodable bytes as \\x escapes
    webhook_id: str | None = None
    client: str | None = None


@dataclass(frozen=True)
class StoredRejection:
    id: int
    received_at: datetime
    rejection: Rejection


def record_rejection(engine: Engine, rejection: Rejection, now: datetime) -> int:
    """Keep ``rejection`` (one transaction) and drop the rows beyond the newest ``KEEP``."""
    r = rejection
    with transaction(engine) as store:
        key = store.conn.execute(
            insert(webhook_rejections).values(
                received_at=now,
                source=r.source[:32],
                status=r.status,
                code=r.code[:64],
                reason=r.reason,
                webhook_id=None if r.webhook_id is None else r.webhook_id[:200],
                client=None if r.client is None else r.client[:100],
                size=r.size,
                truncated=r.truncated,
                body=r.body,
            )
        ).inserted_primary_key
        assert key is not None
        new_id = int(key[0])
        store.conn.execute(
            delete(webhook_rejections).where(webhook_rejections.c.id <= new_id - KEEP)
        )
    return new_id


def recent_rejections(engine: Engine, limit: int = 50) -> list[StoredRejection]:
    """The newest refused deliveries first."""
    t = webhook_rejections
    with transaction(engine) as store:
        rows = store.conn.execute(select(t).order_by(t.c.id.desc()).limit(limit)).all()
    return [
        StoredRejection(
            id=int(row.id),
            received_at=aware(row.received_at),
            rejection=Rejection(
                source=row.source,
                status=int(row.status),
                code=row.code,
                reason=row.reason,
                size=int(row.size),
                truncated=bool(row.truncated),
                body=row.body,
                webhook_id=row.webhook_id,
                client=row.client,
            ),
        )
        for row in rows
    ]


def inbox_pending(conn: Connection) -> int:
    """How many inbox events are stored and not processed yet."""
    return int(conn.execute(COUNT_PENDING).scalar_one())
