"""``SqlCycleStore``: the clearing cycle's view of the database (``services.cycles.CycleStore``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, insert, select, update

from returnbridge.services.cycles import AmazonCalls, Change, Submission
from returnbridge.services.ports import TransactionError
from returnbridge.store.bulk import execute_many
from returnbridge.store.credit_notes import SqlCreditNoteStore
from returnbridge.store.sql import aware_or_none, transaction
from returnbridge.store.stock import SqlStockStore
from returnbridge.store.tables import (
    amazon_positions,
    amazon_submissions,
    catalog_items,
    clearing_cycles,
    outbox,
)

_CHANGE = (outbox.c.id, outbox.c.payload, outbox.c.document, outbox.c.status)

# One row per message, each run as one executemany: a backlog of 100,000 returns is some
# 200,000 messages, which IN lists of a few hundred ids would take thousands of statements for.
SET_SUBMISSION = (
    update(outbox)
    .where(outbox.c.id == bindparam("outbox_id"))
    .values(submission_id=bindparam("submission"))
)
SET_SUBMISSION_AND_DOCUMENT = SET_SUBMISSION.values(document=bindparam("number"))
_CHUNK = 500  # ids or keys per IN list


def _change(row: Any) -> Change:
    payload = json.loads(row.payload)
    return Change(
        row.id,
        payload.get("warehouse"),
        payload["sku"],
        int(payload["case"]),
        payload["line_id"],
        payload,
        row.document,
        row.status,
    )


class SqlCycleStore(SqlStockStore, SqlCreditNoteStore):
    """The SQL store, plus what clearing cycles read and write."""

    def create_cycle(self, now: datetime) -> int:
        return self._insert(insert(clearing_cycles), {"started_at": now})

    def last_cycle_started(self) -> datetime | None:
        started = self.conn.execute(select(func.max(clearing_cycles.c.started_at))).scalar()
        return aware_or_none(started)

    def close_cycle(self, cycle_id: int, now: datetime) -> None:
        self.conn.execute(
            update(clearing_cycles).where(clearing_cycles.c.id == cycle_id).values(closed_at=now)
        )

    def count_cycle(
        self, cycle_id: int | None, calls: AmazonCalls | None, items_rejected: int
    ) -> None:
        c = clearing_cycles.c
        if cycle_id is None:
            cycle_id = self.conn.execute(select(func.max(c.id))).scalar()
            if cycle_id is None:
                return  # no cycle yet, so nothing was sent
        values: dict[str, Any] = {
            "items_rejected": func.coalesce(c.items_rejected, 0) + items_rejected
        }
        if calls is not None:
            values.update(
                amazon_requests=func.coalesce(c.amazon_requests, 0) + calls.requests,
                amazon_retries=func.coalesce(c.amazon_retries, 0) + calls.retries,
                amazon_throttled=func.coalesce(c.amazon_throttled, 0) + calls.throttled,
            )
        self.conn.execute(update(clearing_cycles).where(c.id == cycle_id).values(**values))

    def pending_stock_changes(self) -> list[Change]:
        return self._pending("amazon.inventory")

    def pending_credit_changes(self) -> list[Change]:
        """Pending credit messages, plus the overstated ones of the lines that have one (they
        net against it)."""
        pending = self._pending("amazon.credit_note")
        lines = {(c.case_id, c.line_id) for c in pending if c.document is None}
        if not lines:
            return pending
        overstated = self.conn.execute(
            select(*_CHANGE)
            .where(
                outbox.c.topic == "amazon.credit_note",
                outbox.c.status == "overstated",
                outbox.c.submission_id.is_(None),
            )
            .order_by(outbox.c.id)
        )
        netting = [c for c in map(_change, overstated) if (c.case_id, c.line_id) in lines]
        return sorted(pending + netting, key=lambda c: c.outbox_id)

    def _pending(self, topic: str) -> list[Change]:
        query = (
            select(*_CHANGE)
            .where(
                outbox.c.topic == topic,
                outbox.c.status == "pending",
                outbox.c.submission_id.is_(None),
            )
            .order_by(outbox.c.id)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return [_change(r) for r in self.conn.execute(query)]

    def asins(self, skus: Sequence[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for start in range(0, len(skus), _CHUNK):
            rows = self.conn.execute(
                select(catalog_items.c.sku, catalog_items.c.asin).where(
                    catalog_items.c.sku.in_(skus[start : start + _CHUNK])
                )
            )
            found.update({r.sku: r.asin for r in rows})
        return found

    def add_submission(
        self,
        cycle_id: int,
        operation: str,
        warehouse: str | None,
        key: str,
        body: dict[str, Any],
        item_count: int,
        outbox_ids: Sequence[int],
        now: datetime,
        documents: Mapping[int, str] | None = None,
    ) -> int:
        submission_id = self._insert(
            insert(amazon_submissions),
            {
                "cycle_id": cycle_id,
                "operation": operation,
                "warehouse": warehouse,
                "idempotency_key": key,
                "body": json.dumps(body, sort_keys=True),
                "item_count": item_count,
                "status": "prepared",
                "prepared_at": now,
            },
        )
        if documents:
            execute_many(
                self.conn,
                SET_SUBMISSION_AND_DOCUMENT,
                [
                    {"outbox_id": i, "submission": submission_id, "number": documents[i]}
                    for i in sorted(outbox_ids)  # in the table's order: fewer pages to and fro
                ],
            )
        elif outbox_ids:
            execute_many(
                self.conn,
                SET_SUBMISSION,
                [{"outbox_id": i, "submission": submission_id} for i in sorted(outbox_ids)],
            )
        return submission_id

    def submissions(
        self, statuses: Sequence[str], operation: str | None = None
    ) -> list[Submission]:
        query = select(amazon_submissions).where(amazon_submissions.c.status.in_(statuses))
        if operation is not None:
            query = query.where(amazon_submissions.c.operation == operation)
        rows = self.conn.execute(query.order_by(amazon_submissions.c.id))
        return [
            Submission(
                r.id,
                r.operation,
                r.warehouse,
                r.idempotency_key,
                json.loads(r.body),
                r.status,
                r.transaction_id,
                aware_or_none(r.sent_at),
            )
            for r in rows
        ]

    def mark_submission(
        self,
        submission_id: int,
        status: str,
        now: datetime,
        transaction_id: str | None = None,
        errors: Sequence[TransactionError] = (),
    ) -> None:
        values: dict[str, Any] = {"status": status}
        if status == "sent":
            values.update(sent_at=now, transaction_id=transaction_id)
        else:
            values["final_at"] = now
        if errors:
            values["errors"] = json.dumps([e.__dict__ for e in errors])
        self.conn.execute(
            update(amazon_submissions)
            .where(amazon_submissions.c.id == submission_id)
            .values(**values)
        )

    def changes_of(self, submission_id: int) -> list[Change]:
        rows = self.conn.execute(
            select(*_CHANGE).where(outbox.c.submission_id == submission_id).order_by(outbox.c.id)
        )
        return [_change(r) for r in rows]

    def settle_outbox(self, outbox_ids: Sequence[int], status: str, now: datetime) -> None:
        for start in range(0, len(outbox_ids), 500):
            self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(outbox_ids[start : start + 500]))
                .values(status=status, sent_at=now, attempts=outbox.c.attempts + 1)
            )

    def release_outbox(self, outbox_ids: Sequence[int]) -> None:
        for start in range(0, len(outbox_ids), 500):
            self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(outbox_ids[start : start + 500]))
                .values(submission_id=None, attempts=outbox.c.attempts + 1)
            )

    def record_positions(self, warehouse: str, quantities: dict[str, int], now: datetime) -> None:
        if not quantities:
            return
        skus = sorted(quantities)
        self.conn.execute(
            amazon_positions.delete().where(
                and_(amazon_positions.c.warehouse == warehouse, amazon_positions.c.sku.in_(skus))
            )
        )
        self.conn.execute(
            insert(amazon_positions),
            [
                {"warehouse": warehouse, "sku": sku, "quantity": quantities[sku], "synced_at": now}
                for sku in skus
            ],
        )

    def synced_positions(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute(select(amazon_positions))
        return {(r.warehouse, r.sku): int(r.quantity) for r in rows}


@contextmanager
def cycle_transaction(engine: Engine) -> Iterator[SqlCycleStore]:
    """One unit of work for the clearing cycle."""
    with transaction(engine) as store:
        yield SqlCycleStore(store.conn)


@contextmanager
def cycle_rehearsal(engine: Engine) -> Iterator[SqlCycleStore]:
    """A unit of work that is always rolled back: a dry run reads what it would have done."""
    with engine.connect() as connection:
        work = connection.begin()
        try:
            yield SqlCycleStore(connection)
        finally:
            work.rollback()


__all__ = ["SqlCycleStore", "cycle_rehearsal", "cycle_transaction"]
