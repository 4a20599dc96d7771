"""The dashboard's read model: what the service's front page shows, read in one connection.

Today's flow and the credit figures come from the daily log's read model (``daily.py``, today,
aged to now), so the page and ``report daily`` never disagree. The rest is counted now: the
queues (inbox and outbox), the changes Amazon has not confirmed yet, the open exceptions (a page
of them, oldest first), Amazon's refusals still open, and the alerts firing (``alerts.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from returnbridge.domain.errors import ExceptionCode
from returnbridge.services.alerting import StoredAlert
from returnbridge.services.ports import ExceptionRecord
from returnbridge.store.alerts import SqlAlertStore
from returnbridge.store.daily import daily_figures
from returnbridge.store.sql import SqlStore, aware, aware_or_none
from returnbridge.store.tables import amazon_submissions, clearing_cycles, inbox, outbox

TOPICS = ("amazon.inventory", "amazon.credit_note", "erp.journal", "erp.stock")
AMAZON_TOPICS = TOPICS[:2]
AMAZON_REFUSALS = (ExceptionCode.AMAZON_REJECTED.value, ExceptionCode.AMAZON_STUCK.value)
AWAITING = ("sent", "stuck")  # submissions sent to Amazon that it has not answered for good
REFUSALS_LISTED = 8


@dataclass(frozen=True)
class Queue:
    """Work waiting: the inbox (events not applied yet) or one outbox topic (messages not
    delivered yet)."""

    name: str
    waiting: int
    oldest_at: datetime | None


@dataclass(frozen=True)
class PendingSync:
    """Changes for Amazon of one kind (stock or credit notes) it has not confirmed yet."""

    topic: str
    not_sent: int  # waiting for the next clearing cycle
    awaiting: int  # sent; Amazon has not answered yet
    oldest_at: datetime | None

    @property
    def total(self) -> int:
        return self.not_sent + self.awaiting


@dataclass(frozen=True)
class DashboardFigures:
    now: datetime
    today: dict[str, Any]  # ``daily_figures`` of today (UTC), aged to ``now``
    queues: tuple[Queue, ...]
    syncs: tuple[PendingSync, ...]
    last_cycle_closed: datetime | None
    refusals: dict[str, int]  # open AMAZON_REJECTED / AMAZON_STUCK per code
    refusals_listed: tuple[ExceptionRecord, ...]  # the oldest of them
    exceptions: tuple[ExceptionRecord, ...]  # the page asked for, oldest first
    more_exceptions: bool  # the page is not the whole queue
    alerts: tuple[StoredAlert, ...]  # firing, by key

    @property
    def open_by_code(self) -> dict[str, dict[str, Any]]:
        """Per code: ``open`` and ``oldest_at`` (ISO)."""
        found: dict[str, dict[str, Any]] = self.today["open_exceptions"]
        return found

    @property
    def open_exceptions(self) -> int:
        return sum(int(c["open"]) for c in self.open_by_code.values())


def _queues(conn: Connection) -> tuple[Queue, ...]:
    pending_inbox = conn.execute(
        select(func.count(), func.min(inbox.c.received_at)).where(inbox.c.status == "pending")
    ).one()
    by_topic = {
        str(topic): (int(n), oldest)
        for topic, n, oldest in conn.execute(
            select(outbox.c.topic, func.count(), func.min(outbox.c.created_at))
            .where(outbox.c.status == "pending")
            .group_by(outbox.c.topic)
        )
    }
    queues = [Queue("inbox", int(pending_inbox[0]), aware_or_none(pending_inbox[1]))]
    for topic in sorted(set(TOPICS) | set(by_topic), key=lambda t: (t not in TOPICS, t)):
        n, oldest = by_topic.get(topic, (0, None))
        queues.append(Queue(topic, n, aware_or_none(oldest)))
    return tuple(queues)


def _syncs(conn: Connection) -> tuple[PendingSync, ...]:
    awaiting = amazon_submissions.c.status.in_(AWAITING)
    rows = conn.execute(
        select(
            outbox.c.topic, awaiting.label("awaiting"), func.count(), func.min(outbox.c.created_at)
        )
        .select_from(outbox)
        .outerjoin(amazon_submissions, amazon_submissions.c.id == outbox.c.submission_id)
        .where(outbox.c.status == "pending", outbox.c.topic.in_(AMAZON_TOPICS))
        .group_by(outbox.c.topic, awaiting)
    ).all()
    syncs = []
    for topic in AMAZON_TOPICS:
        mine = [r for r in rows if r[0] == topic]
        oldest = min((aware(r[3]) for r in mine if r[3] is not None), default=None)
        syncs.append(
            PendingSync(
                topic,
                not_sent=sum(int(r[2]) for r in mine if not r[1]),
                awaiting=sum(int(r[2]) for r in mine if r[1]),
                oldest_at=oldest,
            )
        )
    return tuple(syncs)


def dashboard_figures(
    conn: Connection, now: datetime, *, code: str | None = None, limit: int = 100
) -> DashboardFigures:
    """Everything the dashboard shows, as of ``now``; ``code`` and ``limit`` choose the page of
    open exceptions listed (oldest first)."""
    store = SqlStore(conn)
    today = daily_figures(conn, now.date(), as_of=now)
    page = store.list_exceptions("open", code, limit + 1)
    refusals = sorted(
        (
            record
            for refusal in AMAZON_REFUSALS
            for record in store.list_exceptions("open", refusal, REFUSALS_LISTED)
        ),
        key=lambda r: r.id,
    )
    closed = conn.execute(select(func.max(clearing_cycles.c.closed_at))).scalar()
    return DashboardFigures(
        now=now,
        today=today,
        queues=_queues(conn),
        syncs=_syncs(conn),
        last_cycle_closed=aware_or_none(closed),
        refusals={
            c: int(today["open_exceptions"][c]["open"])
            for c in AMAZON_REFUSALS
            if c in today["open_exceptions"]
        },
        refusals_listed=tuple(refusals[:REFUSALS_LISTED]),
        exceptions=tuple(page[:limit]),
        more_exceptions=len(page) > limit,
        alerts=tuple(SqlAlertStore(conn).list_alerts()),
    )


__all__ = ["DashboardFigures", "PendingSync", "Queue", "dashboard_figures"]
