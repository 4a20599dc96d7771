"""The audit log table: append a sealed row, read the rows back. Nothing here updates or deletes.

Appends are serialised so concurrent writers cannot fork the chain (two rows following the same
row): on PostgreSQL a transaction-scoped advisory lock, taken before the last row is read and
held until the transaction ends; on SQLite every transaction already holds the one write lock
from its start (``BEGIN IMMEDIATE``, store/engine.py). The row is written in the caller's
transaction, so it commits with the change it records, or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text

from returnbridge.domain.audit_log import GENESIS, AuditEntry, AuditRecord, canonical_json, seal
from returnbridge.store.tables import audit_log

AUDIT_LOCK = 0x7262_6175_6469_7400  # "rbaudit": any fixed key, the same in every process
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_LAST = select(audit_log.c.id, audit_log.c.hash).order_by(audit_log.c.id.desc()).limit(1)


def append_audit(conn: Connection, entry: AuditEntry) -> AuditRecord:
    """Seal ``entry`` after the last row and insert it, in ``conn``'s transaction."""
    # What is sealed must be what the columns keep: UTC (SQLite drops offsets), their lengths.
    entry = replace(
        entry,
        at=entry.at.astimezone(UTC),
        actor=entry.actor[:200],
        action=entry.action[:64],
        target=entry.target[:200],
    )
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK, {"key": AUDIT_LOCK})
    last = conn.execute(_LAST).first()
    record = seal(entry, int(last.id), str(last.hash)) if last else seal(entry, 0, GENESIS)
    conn.execute(
        insert(audit_log).values(
            id=record.id,
            at=record.at,
            actor=record.actor,
            actor_kind=record.actor_kind,
            action=record.action,
            target=record.target,
            before=None if record.before is None else canonical_json(record.before),
            after=None if record.after is None else canonical_json(record.after),
            prev_hash=record.prev_hash,
            hash=record.hash,
        )
    )
    return record


def _json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _record(row: Any) -> AuditRecord:
    at: datetime = row.at
    return AuditRecord(
        id=int(row.id),
        at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,  # SQLite hands back naive
        actor=row.actor,
        actor_kind=row.actor_kind,
        action=row.action,
        target=row.target,
        before=_json(row.before),
        after=_json(row.after),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def audit_rows(conn: Connection, chunk: int = 1_000) -> Iterator[AuditRecord]:
    """Every row in id order, streamed ``chunk`` at a time (keyset: memory stays flat)."""
    after = 0
    while True:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(chunk)
        ).all()
        for row in rows:
            yield _record(row)
        if len(rows) < chunk:
            return
        after = int(rows[-1].id)


def recent_audit_rows(conn: Connection, limit: int, target: str | None = None) -> list[AuditRecord]:
    """The newest ``limit`` rows (of ``target``, if given), newest first."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if target is not None:
        query = query.where(audit_log.c.target == target)
    return [_record(row) for row in conn.execute(query)]
