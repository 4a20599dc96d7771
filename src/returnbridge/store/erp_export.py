"""``SqlErpExportStore``: the ERP export's view of the database
(``services.erp_export.ErpExportStore``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from returnbridge.services.erp_export import (
    DELIVERED,
    RECORDED,
    REFUSED,
    TOPIC,
    TOPICS,
    WRITTEN,
    ErpExport,
    ErpMessage,
    JournalMessage,
    StockMessage,
)
from returnbridge.store.sql import SqlStore, aware, transaction
from returnbridge.store.tables import (
    erp_export_messages,
    erp_exports,
    inbox,
    journal_entries,
    outbox,
    stock_movements,
)

_CHUNK = 500


def _export(row: Any) -> ErpExport:
    return ErpExport(
        row.id, row.batch_key, row.status, row.entries, row.lines, row.attempts, row.answer
    )


class SqlErpExportStore(SqlStore):
    """The SQL store, plus what the ERP export reads and writes."""

    def pending_messages(self) -> list[ErpMessage]:
        query = (
            select(outbox.c.id, outbox.c.topic, outbox.c.payload)
            .where(outbox.c.topic.in_(TOPICS), outbox.c.status == "pending")
            .order_by(outbox.c.id)
        )
        if self._postgres:
            # A concurrent export waits, then sees these rows no longer pending.
            query = query.with_for_update(of=outbox)
        return self._messages(list(self.conn.execute(query)))

    def export_messages(self, export_id: int) -> list[ErpMessage]:
        rows = self.conn.execute(
            select(outbox.c.id, outbox.c.topic, outbox.c.payload)
            .join(erp_export_messages, erp_export_messages.c.outbox_id == outbox.c.id)
            .where(erp_export_messages.c.export_id == export_id)
            .order_by(outbox.c.id)
        )
        return self._messages(list(rows))

    def _messages(self, rows: list[Any]) -> list[ErpMessage]:
        payloads = [(int(r.id), r.topic, json.loads(r.payload)) for r in rows]
        keys = [p["entry_key"] for _, topic, p in payloads if topic == TOPIC]
        movements = [p["movement_key"] for _, topic, p in payloads if topic != TOPIC]
        posted: dict[str, datetime] = {}
        for start in range(0, len(keys), _CHUNK):
            found = self.conn.execute(
                select(journal_entries.c.entry_key, journal_entries.c.posted_at).where(
                    journal_entries.c.entry_key.in_(keys[start : start + _CHUNK])
                )
            )
            posted.update({r.entry_key: aware(r.posted_at) for r in found})
        # The event that moved the stock, named as a journal's ``source_event`` is.
        sources: dict[str, str] = {}
        for start in range(0, len(movements), _CHUNK):
            found = self.conn.execute(
                select(stock_movements.c.movement_key, inbox.c.source, inbox.c.event_id)
                .join(inbox, inbox.c.id == stock_movements.c.inbox_id)
                .where(stock_movements.c.movement_key.in_(movements[start : start + _CHUNK]))
            )
            sources.update({r.movement_key: f"{r.source}/{r.event_id}" for r in found})
        return [
            JournalMessage(i, p, posted[p["entry_key"]])
            if topic == TOPIC
            else StockMessage(i, p, sources.get(p["movement_key"]))
            for i, topic, p in payloads
        ]

    def record_export(
        self,
        batch_key: str,
        outbox_ids: Sequence[int],
        entries: int,
        lines: int,
        now: datetime,
    ) -> int:
        export_id = self._insert(
            insert(erp_exports),
            {
                "batch_key": batch_key,
                "created_at": now,
                "first_outbox_id": outbox_ids[0],
                "last_outbox_id": outbox_ids[-1],
                "entries": entries,
                "lines": lines,
                "status": RECORDED,
                "attempts": 0,
            },
        )
        # The link's key (outbox_id) makes a second batch of the same message fail loudly.
        self.conn.execute(
            insert(erp_export_messages),
            [{"outbox_id": i, "export_id": export_id} for i in outbox_ids],
        )
        for start in range(0, len(outbox_ids), _CHUNK):
            self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(outbox_ids[start : start + _CHUNK])))
                .values(status="exported", sent_at=now, attempts=outbox.c.attempts + 1)
            )
        return export_id

    def exports(self, statuses: Sequence[str]) -> list[ErpExport]:
        rows = self.conn.execute(
            select(erp_exports)
            .where(erp_exports.c.status.in_(list(statuses)))
            .order_by(erp_exports.c.id)
        )
        return [_export(r) for r in rows]

    def export_by_key(self, batch_key: str) -> ErpExport | None:
        row = self.conn.execute(
            select(erp_exports).where(erp_exports.c.batch_key == batch_key)
        ).first()
        return None if row is None else _export(row)

    def mark_export(
        self, export_id: int, status: str, now: datetime, answer: str | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status}
        if status == WRITTEN:
            values["written_at"] = now
        if status in (DELIVERED, REFUSED):
            values["attempts"] = erp_exports.c.attempts + 1
        if status == DELIVERED:
            values["delivered_at"] = now
        if answer is not None:
            values["answer"] = answer
        self.conn.execute(update(erp_exports).where(erp_exports.c.id == export_id).values(**values))

    def count_attempt(self, export_id: int, answer: str | None) -> None:
        self.conn.execute(
            update(erp_exports)
            .where(erp_exports.c.id == export_id)
            .values(attempts=erp_exports.c.attempts + 1, answer=answer)
        )


@contextmanager
def erp_transaction(engine: Engine) -> Iterator[SqlErpExportStore]:
    """One unit of work for the ERP export."""
    with transaction(engine) as store:
        yield SqlErpExportStore(store.conn)


__all__ = ["SqlErpExportStore", "erp_transaction"]
