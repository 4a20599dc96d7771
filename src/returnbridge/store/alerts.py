"""``SqlAlertStore``: the facts the alert rules read, and the ``alerts`` table
(``services.alerting.AlertStore``).

Recording takes a transaction-wide lock on PostgreSQL (SQLite's ``BEGIN IMMEDIATE`` already lets
one writer in at a time), so two evaluators at once see each other's rows and never insert a
condition twice; the unique ``active_key`` stops a second firing row whatever happens.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from returnbridge.domain.credits import CreditRow
from returnbridge.services.alert_rules import (
    INBOX,
    UNMAPPED_CODES,
    AlertFacts,
    QueueFacts,
    StockHold,
    UnmappedCode,
    credit_ages,
)
from returnbridge.services.alerting import NoticeKind, Recorded, Source, StoredAlert
from returnbridge.services.alerts import Alert
from returnbridge.services.finance import credit_report
from returnbridge.services.stock_sync import HOLD_CODES
from returnbridge.store.finance import SqlFinanceStore
from returnbridge.store.gauges import queue_gauges
from returnbridge.store.sql import SqlStore, aware, aware_or_none, transaction
from returnbridge.store.tables import (
    alerts,
    amazon_submissions,
    clearing_cycles,
    erp_exports,
    exceptions,
    inbox,
    outbox,
    return_lines,
)

_LOCK = 7_215_043_001  # pg_advisory_xact_lock key of alert recording (any constant of ours)
_AMAZON_TOPICS = outbox.c.topic.like("amazon.%")
_ERROR_CHARS = 500
# Which return-line column holds the code as received, per unmapped-code exception.
_RAW_COLUMN = {
    "UNKNOWN_SKU": "sku_scanned",
    "UNMAPPED_REASON": "reason",
    "UNMAPPED_GRADE": "grade",
    "UNMAPPED_DISPOSITION": "disposition",
    "UNMAPPED_CHARGE": "disposition",  # a charge line keeps its charge type there
}


def _stored(row: Any) -> StoredAlert:
    return StoredAlert(
        id=int(row.id),
        key=row.key,
        name=row.name,
        severity=row.severity,
        summary=row.summary,
        runbook=row.runbook,
        source=row.source,
        first_seen=aware(row.first_seen),
        last_seen=aware(row.last_seen),
        resolved_at=aware_or_none(row.resolved_at),
        seen_count=int(row.seen_count),
        notified_at=aware_or_none(row.notified_at),
        resolve_notified_at=aware_or_none(row.resolve_notified_at),
        notified_via=row.notified_via,
        notify_attempts=int(row.notify_attempts),
        notify_error=row.notify_error,
    )


class SqlAlertStore(SqlStore):
    """The SQL store, plus the alert facts and the ``alerts`` table."""

    # ------------------------------------------------------------------ facts
    def alert_facts(
        self, now: datetime, rejection_window: timedelta, *, credits: bool = True
    ) -> AlertFacts:
        """Everything the rules read, in this transaction. ``credits=False`` leaves
        ``pending_credits`` empty: the credit report behind it is the one read whose cost grows
        with the ledger, and ``/metrics`` reads it apart, less often (``credit_rows``)."""
        gauges = queue_gauges(self.conn)
        inbox_oldest = self.conn.execute(
            select(func.min(inbox.c.received_at)).where(inbox.c.status == "pending")
        ).scalar()
        outbox_oldest = dict(
            self.conn.execute(
                select(outbox.c.topic, func.min(outbox.c.created_at))
                .where(outbox.c.status == "pending")
                .group_by(outbox.c.topic)
            ).all()
        )
        accepted, rejected = self._amazon_answers(now - rejection_window)
        unsent, unsent_since = self.conn.execute(
            select(func.count(), func.min(amazon_submissions.c.prepared_at)).where(
                amazon_submissions.c.status == "prepared"
            )
        ).one()
        undelivered = self.conn.execute(
            select(erp_exports.c.batch_key)
            .where(erp_exports.c.status == "written", erp_exports.c.attempts > 0)
            .order_by(erp_exports.c.id)
        ).scalars()
        erp_batches = list(undelivered)
        oldest_change = self.conn.execute(
            select(func.min(outbox.c.created_at)).where(
                outbox.c.status == "pending", _AMAZON_TOPICS
            )
        ).scalar()
        closed = self.conn.execute(select(func.max(clearing_cycles.c.closed_at))).scalar()
        return AlertFacts(
            inbox=QueueFacts(INBOX, gauges.inbox_pending, aware_or_none(inbox_oldest)),
            outbox=tuple(
                QueueFacts(topic, depth, aware_or_none(outbox_oldest.get(topic)))
                for topic, depth in sorted(gauges.outbox_pending.items())
            ),
            amazon_accepted=accepted,
            amazon_rejected=rejected,
            unmapped=self._unmapped(),
            pending_credits=credit_ages(self.credit_rows(), now) if credits else (),
            rfs_not_received=gauges.open_exceptions.get("RFS_NOT_RECEIVED", 0),
            amazon_unsent=int(unsent),
            amazon_unsent_since=aware_or_none(unsent_since),
            erp_undelivered=len(erp_batches),
            erp_undelivered_batch=erp_batches[0] if erp_batches else None,
            amazon_oldest_change=aware_or_none(oldest_change),
            last_cycle_closed=aware_or_none(closed),
            stock_holds=self._stock_holds(),
        )

    def _stock_holds(self) -> tuple[StockHold, ...]:
        """Open stock holds, per cause and warehouse (or DC)."""
        e = exceptions.c
        rows = self.conn.execute(
            select(e.code, e.subject, e.raw).where(
                e.status == "open", e.code.in_(HOLD_CODES), e.subject.is_not(None)
            )
        )
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for row in rows:
            kind, _, rest = str(row.subject).partition(":")
            raw = json.loads(row.raw)
            if kind == "position":
                counts[(row.code, rest.split("/", 1)[0])] += 1
            else:
                counts[(row.code, rest)] += int(raw.get("positions", raw.get("messages", 1)))
        return tuple(StockHold(code, scope, n) for (code, scope), n in sorted(counts.items()))

    def _amazon_answers(self, since: datetime) -> tuple[int, int]:
        """Changes for Amazon it answered since ``since``: (accepted, rejected)."""
        rows: dict[str, int] = dict(
            self.conn.execute(
                select(outbox.c.status, func.count())
                .where(
                    outbox.c.status.in_(("sent", "rejected")),
                    _AMAZON_TOPICS,
                    outbox.c.sent_at >= since,
                )
                .group_by(outbox.c.status)
            ).all()
        )
        return int(rows.get("sent", 0)), int(rows.get("rejected", 0))

    def _unmapped(self) -> tuple[UnmappedCode, ...]:
        rl = return_lines
        rows = self.conn.execute(
            select(
                exceptions.c.code,
                rl.c.sku_scanned,
                rl.c.reason,
                rl.c.grade,
                rl.c.disposition,
                func.count().label("n"),
            )
            .select_from(exceptions)
            .outerjoin(
                rl, and_(rl.c.case_id == exceptions.c.case_id, rl.c.line_id == exceptions.c.line_id)
            )
            .where(exceptions.c.status == "open", exceptions.c.code.in_(UNMAPPED_CODES))
            .group_by(
                exceptions.c.code, rl.c.sku_scanned, rl.c.reason, rl.c.grade, rl.c.disposition
            )
        )
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for row in rows:
            value = getattr(row, _RAW_COLUMN[row.code])
            counts[(row.code, "?" if value is None else str(value))] += int(row.n)
        return tuple(UnmappedCode(code, value, n) for (code, value), n in sorted(counts.items()))

    def credit_rows(self) -> list[CreditRow]:
        """The credit report finance reads (every credit line): the truth, at a cost that grows
        with the ledger."""
        return credit_report(SqlFinanceStore(self.conn))

    # ----------------------------------------------------------------- record
    def record_alerts(self, found: Sequence[Alert], source: Source, now: datetime) -> Recorded:
        if self._postgres:
            self.conn.execute(select(func.pg_advisory_xact_lock(_LOCK)))
        wanted = {alert.key: alert for alert in found}  # one per key: the last one wins
        active = {
            row.key: row
            for row in self.conn.execute(select(alerts).where(alerts.c.resolved_at.is_(None)))
        }
        fired: list[int] = []
        for key, alert in sorted(wanted.items()):
            row = active.get(key)
            values = {"severity": alert.severity, "summary": alert.summary, "last_seen": now}
            if row is not None:
                self.conn.execute(
                    update(alerts)
                    .where(alerts.c.id == row.id)
                    .values(**values, seen_count=alerts.c.seen_count + 1)
                )
                continue
            fired.append(
                self._insert(
                    insert(alerts),
                    {
                        **values,
                        "key": key,
                        "active_key": key,
                        "name": alert.name,
                        "source": source,
                        "runbook": alert.runbook,
                        "first_seen": now,
                        "seen_count": 1,
                        "notify_attempts": 0,
                    },
                )
            )
        gone = [
            int(row.id) for key, row in active.items() if row.source == source and key not in wanted
        ]
        for start in range(0, len(gone), 500):
            self.conn.execute(
                update(alerts)
                .where(alerts.c.id.in_(gone[start : start + 500]))
                .values(resolved_at=now, active_key=None)
            )
        return Recorded(
            fired=self._by_ids(fired),
            resolved=self._by_ids(gone),
            firing=self.list_alerts(),
        )

    def _by_ids(self, ids: Sequence[int]) -> list[StoredAlert]:
        found: list[StoredAlert] = []
        for start in range(0, len(ids), 500):
            rows = self.conn.execute(
                select(alerts)
                .where(alerts.c.id.in_(ids[start : start + 500]))
                .order_by(alerts.c.id)
            )
            found += [_stored(r) for r in rows]
        return found

    def list_alerts(self, include_resolved: bool = False, limit: int = 1_000) -> list[StoredAlert]:
        """Firing alerts by key; with ``include_resolved``, the newest ``limit`` of all."""
        query = select(alerts)
        if include_resolved:
            query = query.order_by(alerts.c.id.desc()).limit(limit)
        else:
            query = query.where(alerts.c.resolved_at.is_(None)).order_by(alerts.c.key)
        return [_stored(r) for r in self.conn.execute(query)]

    # ----------------------------------------------------------------- notify
    _OWED = or_(
        and_(alerts.c.resolved_at.is_(None), alerts.c.notified_at.is_(None)),
        and_(alerts.c.resolved_at.is_not(None), alerts.c.resolve_notified_at.is_(None)),
    )

    def alerts_owing_notice(self, limit: int) -> list[StoredAlert]:
        rows = self.conn.execute(
            select(alerts).where(self._OWED).order_by(alerts.c.id).limit(limit)
        )
        return [_stored(r) for r in rows]

    def claim_notice(self, alert_id: int, now: datetime, lease: timedelta) -> StoredAlert | None:
        claimed = self.conn.execute(
            update(alerts)
            .where(
                alerts.c.id == alert_id,
                self._OWED,
                or_(alerts.c.notify_after.is_(None), alerts.c.notify_after <= now),
            )
            .values(notify_after=now + lease, notify_attempts=alerts.c.notify_attempts + 1)
        )
        if claimed.rowcount != 1:
            return None
        return _stored(self.conn.execute(select(alerts).where(alerts.c.id == alert_id)).one())

    def notice_delivered(self, alert_id: int, kind: NoticeKind, now: datetime, via: str) -> None:
        values: dict[str, Any] = {
            "notified_at": func.coalesce(alerts.c.notified_at, now),
            "notified_via": via,
            "notify_after": None,
            "notify_error": None,
        }
        if kind == "resolved":
            values["resolve_notified_at"] = now
        self.conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))

    def notice_failed(self, alert_id: int, error: str) -> None:
        """Owed still; the next evaluation tries again (the lease is given back)."""
        self.conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(notify_after=None, notify_error=error[:_ERROR_CHARS])
        )


@contextmanager
def alert_transaction(engine: Engine) -> Iterator[SqlAlertStore]:
    """One unit of work over the alerts."""
    with transaction(engine) as store:
        yield SqlAlertStore(store.conn)


def list_alerts(engine: Engine, include_resolved: bool = False) -> list[StoredAlert]:
    with alert_transaction(engine) as store:
        return store.list_alerts(include_resolved)


__all__ = ["SqlAlertStore", "alert_transaction", "list_alerts"]
