"""``SqlStore``: the ``Store`` port over one SQLAlchemy connection and transaction."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from returnbridge.domain.audit_log import AuditEntry, AuditRecord
from returnbridge.domain.catalog import Catalog, CatalogItem
from returnbridge.domain.errors import StoreUnavailable
from returnbridge.domain.events import ReturnEvent
from returnbridge.domain.journals import JournalDraft, JournalKind, Posting
from returnbridge.domain.money import Money
from returnbridge.domain.routing import LineOutcome
from returnbridge.services.ports import (
    CaseEventRow,
    CaseRow,
    ExceptionRecord,
    InboxRecord,
    InboxRow,
    OpenException,
    PostedJournal,
    PostedLine,
)
from returnbridge.store import queries as q
from returnbridge.store.audit_log import append_audit
from returnbridge.store.bulk import copy_rows, insert_many
from returnbridge.store.casebook import CaseBook
from returnbridge.store.tables import (
    case_events,
    catalog_items,
    config_documents,
    credit_notes,
    exception_actions,
    exceptions,
    inbox,
    outbox,
    return_cases,
    return_lines,
)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time returnbridge stores is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def aware_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else aware(value)


class SqlStore:
    """Implements ``returnbridge.services.ports.Store``."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection
        self._postgres = connection.dialect.name == "postgresql"
        # A batch's unit of work (store/casebook.py), once the pipeline starts one.
        self._book: CaseBook | None = None
        self._outbox: list[tuple[str, str, dict[str, Any], datetime]] = []

    # ---------------------------------------------------------------- inbox
    def add_to_inbox(self, records: Sequence[InboxRecord], now: datetime) -> list[int | None]:
        """Store new events; count, and do not store, the ones already there.

        Returns the new inbox id per record, or None where the record was a duplicate (of a
        stored event, or of an earlier record of the same batch).
        """
        known = self._inbox_ids({(r.source, r.event_id) for r in records})
        fresh: dict[tuple[str, str], dict[str, Any]] = {}
        repeats: Counter[tuple[str, str]] = Counter()
        plan: list[tuple[tuple[str, str], bool]] = []
        for record in records:
            key = (record.source, record.event_id)
            is_new = key not in known and key not in fresh
            plan.append((key, is_new))
            if not is_new:
                repeats[key] += 1
                continue
            fresh[key] = {
                "source": record.source,
                "event_id": record.event_id,
                "event_type": record.event_type[:64],
                "case_key": record.case_key,
                "received_at": now,
                "payload": record.payload,
                "status": "invalid" if record.invalid_reason else "pending",
                "error": record.invalid_reason,
                "attempts": 0,
                "duplicates": 0,
            }
        new_ids = dict(zip(fresh, self._insert_many(inbox, list(fresh.values())), strict=True))
        known.update(new_ids)
        for key, count in repeats.items():
            self.conn.execute(
                update(inbox)
                .where(inbox.c.id == known[key])
                .values(duplicates=inbox.c.duplicates + count)
            )
        return [new_ids[key] if is_new else None for key, is_new in plan]

    def _inbox_ids(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        by_source: dict[str, list[str]] = {}
        for source, event_id in keys:
            by_source.setdefault(source, []).append(event_id)
        for source, event_ids in by_source.items():
            if self._postgres:  # one array parameter, however many ids
                rows = self.conn.execute(q.INBOX_IDS, {"source": source, "event_ids": event_ids})
                found.update({(source, row.event_id): int(row.id) for row in rows})
                continue
            for start in range(0, len(event_ids), 500):
                rows = self.conn.execute(
                    select(inbox.c.id, inbox.c.event_id).where(
                        inbox.c.source == source,
                        inbox.c.event_id.in_(event_ids[start : start + 500]),
                    )
                )
                found.update({(source, row.event_id): int(row.id) for row in rows})
        return found

    def _insert_many(self, table: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` in one statement; their ids, in order."""
        if not rows:
            return []
        ids = self._next_ids(table, len(rows))
        if self._postgres:
            # PostgreSQL's bulk load, COPY, with ids drawn ahead: binding a parameter per value
            # (a multi-row VALUES ... RETURNING) costs several times more.
            self._copy(table, ids, rows)
            return ids
        # SQLite cannot promise RETURNING's order over several rows (SQLAlchemy then inserts
        # them one at a time). Its transactions hold the only write lock (BEGIN IMMEDIATE),
        # so the ids it would give are the ones after the largest: given explicitly, they go
        # in one executemany.
        with_ids = [{**row, "id": i} for row, i in zip(rows, ids, strict=True)]
        insert_many(self.conn, table, with_ids)
        return ids

    def _copy(self, table: Any, ids: list[int], rows: list[dict[str, Any]]) -> None:
        """``COPY`` the rows in with their ids (PostgreSQL), on this transaction's connection."""
        columns = list(rows[0])
        quote = self.conn.dialect.identifier_preparer.quote
        statement = f"COPY {table.name} (id, {', '.join(quote(c) for c in columns)}) FROM STDIN"
        copy_rows(
            self.conn,
            statement,
            ((row_id, *(row[c] for c in columns)) for row_id, row in zip(ids, rows, strict=True)),
        )

    def _next_ids(self, table: Any, count: int, after: int | None = None) -> list[int]:
        """``count`` ids for new rows of ``table`` that no other transaction will take.

        PostgreSQL draws them from the table's sequence (an id not used leaves a gap, as a
        rolled-back insert does). SQLite takes the ones after the largest id, or after
        ``after``: ids this transaction already gave out to rows it has not written yet.
        """
        if self._postgres:
            rows = self.conn.execute(q.NEXT_IDS, {"table": table.name, "count": count})
            return [int(r[0]) for r in rows]
        if after is None:
            after = int(self.conn.execute(select(func.max(table.c.id))).scalar() or 0)
        return list(range(after + 1, after + 1 + count))

    def _insert(self, statement: Any, params: dict[str, Any] | None = None) -> int:
        key = self.conn.execute(statement, params).inserted_primary_key
        assert key is not None
        return int(key[0])

    def claim_inbox(self, limit: int, followers: int = 0) -> list[InboxRow]:
        """The next pending events this transaction may apply, locked until it ends; no two
        workers hold events of the same case, and a case's events come in arrival order.
        With ``followers``, up to that many later pending events of the same cases come too."""
        query: Any = q.CLAIM_INBOX_FOLLOWERS if followers else q.CLAIM_INBOX
        if self._postgres:
            query = q.CLAIM_INBOX_SHARED
        params = {"limit": limit, "followers": followers}
        # Every claim selects InboxRow's fields in its order: rows are built by position.
        return [InboxRow(*row) for row in self.conn.execute(query, params)]

    def claim_inbox_row(self, inbox_id: int) -> InboxRow | None:
        """One event, if it is still pending and no other worker holds it."""
        query = q.CLAIM_INBOX_ROW
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        row = self.conn.execute(query, {"inbox_id": inbox_id}).first()
        return InboxRow(**row._mapping) if row else None

    def lock_keys(self, keys: Sequence[str]) -> None:
        """Hold ``keys`` (a case, an order) until the transaction ends, taken in one sorted
        order so that two workers cannot deadlock; SQLite has one writer and needs none."""
        if self._postgres and keys:
            self.conn.execute(q.LOCK_KEYS, {"keys": sorted(set(keys))})

    def inbox_row(self, inbox_id: int) -> InboxRow | None:
        row = self.conn.execute(
            select(
                inbox.c.id,
                inbox.c.source,
                inbox.c.event_id,
                inbox.c.event_type,
                inbox.c.payload,
                inbox.c.attempts,
            ).where(inbox.c.id == inbox_id)
        ).first()
        return InboxRow(**row._mapping) if row else None

    def mark_inbox(
        self,
        inbox_id: int,
        status: str,
        now: datetime,
        error: str | None = None,
        worker: str | None = None,
    ) -> None:
        self.conn.execute(
            q.MARK_INBOX,
            {"inbox_id": inbox_id, "status": status, "now": now, "error": error, "worker": worker},
        )

    def mark_processed(self, inbox_id: int, now: datetime, worker: str) -> None:
        """``mark_inbox(inbox_id, "processed", ...)``; inside a pipeline batch, written with the
        batch's other rows when the transaction ends."""
        if self._book is not None:
            self._book.mark_processed(inbox_id, now, worker)
        else:
            self.mark_inbox(inbox_id, "processed", now, worker=worker)

    def mark_inbox_many(
        self, inbox_ids: Sequence[int], status: str, now: datetime, worker: str | None = None
    ) -> None:
        """Mark a claimed batch at once (one statement per 500 events)."""
        for start in range(0, len(inbox_ids), 500):
            self.conn.execute(
                update(inbox)
                .where(inbox.c.id.in_(inbox_ids[start : start + 500]))
                .values(status=status, processed_at=now, error=None, processed_by=worker,
                        attempts=inbox.c.attempts + 1)
            )  # fmt: skip

    def requeue_inbox(self, inbox_id: int) -> None:
        self.conn.execute(
            update(inbox)
            .where(inbox.c.id == inbox_id)
            .values(status="pending", processed_at=None, error=None)
        )

    def analyze_inbox(self) -> None:
        """Refresh the planner's statistics of the inbox after a bulk load, as PostgreSQL's
        documentation advises (autovacuum would, but only a minute or so later: until then a
        claim would plan for an empty inbox). SQLite's planner keeps no statistics unless told
        to: nothing to do."""
        if self._postgres:
            self.conn.execute(q.ANALYZE_INBOX)

    def refresh_statistics(self) -> list[str]:
        """ANALYZE the pipeline's tables whose planner statistics are stale (PostgreSQL), as
        autovacuum would if it runs and keeps up; the tables analyzed. SQLite keeps none."""
        if not self._postgres:
            return []
        stale = list(
            self.conn.execute(q.STALE_STATISTICS, {"tables": list(q.PIPELINE_TABLES)}).scalars()
        )
        quote = self.conn.dialect.identifier_preparer.quote
        for table in stale:
            self.conn.exec_driver_sql(f"ANALYZE {quote(table)}")
        return stale

    def inbox_pending(self) -> int:
        return int(
            self.conn.execute(
                select(func.count()).select_from(inbox).where(inbox.c.status == "pending")
            ).scalar_one()
        )

    # ---------------------------------------------------------- master data
    def replace_catalog(self, items: Sequence[CatalogItem]) -> None:
        self.conn.execute(catalog_items.delete())
        rows = [
            {
                "sku": i.sku,
                "asin": i.asin,
                "ean": i.ean,
                "aliases": json.dumps(list(i.aliases)),
                "active": i.active,
                "non_inventory": i.non_inventory,
                "unit_cost": i.unit_cost.amount,
                "currency": i.unit_cost.currency,
                "description": i.description,
            }
            for i in items
        ]
        if rows:
            self.conn.execute(insert(catalog_items), rows)

    def load_catalog(self) -> Catalog:
        rows = self.conn.execute(select(catalog_items).order_by(catalog_items.c.sku))
        return Catalog.of(
            CatalogItem(
                sku=r.sku,
                unit_cost=Money(r.unit_cost, r.currency),
                asin=r.asin,
                ean=r.ean,
                aliases=tuple(json.loads(r.aliases)),
                active=r.active,
                non_inventory=r.non_inventory,
                description=r.description,
            )
            for r in rows
        )

    def save_config(self, name: str, source: str, content: str, now: datetime) -> int:
        current = self.config(name)
        version = (current[0] if current else 0) + 1
        values = {"version": version, "source": source, "content": content, "loaded_at": now}
        if current:
            self.conn.execute(
                update(config_documents).where(config_documents.c.name == name).values(**values)
            )
        else:
            self.conn.execute(insert(config_documents).values(name=name, **values))
        return version

    def config(self, name: str) -> tuple[int, str] | None:
        row = self.conn.execute(
            select(config_documents.c.version, config_documents.c.content).where(
                config_documents.c.name == name
            )
        ).first()
        return (row.version, row.content) if row else None

    def config_versions(self) -> dict[str, int]:
        rows = self.conn.execute(select(config_documents.c.name, config_documents.c.version))
        return {r.name: r.version for r in rows}

    # ---------------------------------------------------------------- cases
    def _case(self, query: Any, **params: Any) -> CaseRow | None:
        row = self.conn.execute(query, params).first()
        return CaseRow(**row._mapping) if row else None

    def batch_cases(self, case_keys: Sequence[str], orders: Sequence[str] = ()) -> None:
        """Keep the cases this transaction applies events to in memory, and its writes until
        it ends; the cases of ``case_keys`` and of ``orders`` are loaded at once."""
        if self._book is None:
            self._book = CaseBook(self.conn, self._insert_many, self._next_ids)
        self._book.prefetch(case_keys, orders)

    def flush(self) -> None:
        """Write what the batch's book holds (the transaction commits right after)."""
        if self._book is not None:
            self._book.flush()
        if self._outbox:
            self.add_to_outbox_many(self._outbox)
            self._outbox = []

    def find_case(
        self, case_key: str, return_id: str | None, order_ref: str | None
    ) -> CaseRow | None:
        if self._book is not None:
            return self._book.find_case(case_key, return_id, order_ref)
        found = self._case(q.CASE_BY_KEY, case_key=case_key)
        if found or not order_ref:
            return found
        if return_id:
            # A ZigZag return adopts the provisional case Amazon's refund opened for its order.
            return self._case(q.PROVISIONAL_CASE_OF_ORDER, order_ref=order_ref)
        # An Amazon refund joins the ZigZag return already known for its order.
        return self._case(q.CASE_OF_ORDER, order_ref=order_ref)

    def provisional_case_of_order(self, order_ref: str) -> CaseRow | None:
        if self._book is not None:
            return self._book.provisional_case_of_order(order_ref)
        return self._case(q.PROVISIONAL_CASE_OF_ORDER, order_ref=order_ref)

    def merge_case(self, from_id: int, into_id: int) -> None:
        """Move a provisional case's events (and anything raised on it) into another case."""
        if self._book is not None:  # rare: write what is pending, then read afresh
            self.flush()
            self._book.forget()
        for table in (case_events, exceptions):
            self.conn.execute(
                update(table).where(table.c.case_id == from_id).values(case_id=into_id)
            )
        self.conn.execute(delete(return_cases).where(return_cases.c.id == from_id))

    def case_by_key(self, case_key: str) -> CaseRow | None:
        return self._case(q.CASE_BY_KEY, case_key=case_key)

    def create_case(
        self, case_key: str, return_id: str | None, order_ref: str | None, now: datetime
    ) -> CaseRow:
        if self._book is not None:
            return self._book.create_case(case_key, return_id, order_ref, now)
        case_id = self._insert(
            q.INSERT_CASE,
            {
                "case_key": case_key,
                "return_id": return_id,
                "order_ref": order_ref,
                "status": "registered",
                "provisional": False,
                "created_at": now,
                "updated_at": now,
            },
        )
        return CaseRow(case_id, case_key, return_id, order_ref)

    def adopt_case(self, case_id: int, case_key: str, return_id: str) -> None:
        if self._book is not None:
            self._book.adopted(case_id, case_key, return_id)
            if self._book.is_new(case_id):
                return
        self.conn.execute(
            update(return_cases)
            .where(return_cases.c.id == case_id)
            .values(case_key=case_key, return_id=return_id)
        )

    def add_case_event(
        self,
        case_id: int,
        inbox_id: int,
        body: dict[str, Any],
        raw: str = "",
        event: ReturnEvent | None = None,
    ) -> None:
        if self._book is not None:
            self._book.add_case_event(case_id, inbox_id, body, raw, event)
            return
        self.conn.execute(
            q.INSERT_CASE_EVENT,
            {"case_id": case_id, "inbox_id": inbox_id, "body": json.dumps(body)},
        )

    def case_events(self, case_id: int) -> list[CaseEventRow]:
        if self._book is not None:
            return self._book.case_events(case_id)
        rows = self.conn.execute(q.CASE_EVENTS, {"case_id": case_id})
        return [CaseEventRow(r.inbox_id, json.loads(r.body), r.payload) for r in rows]

    def update_case(self, case_id: int, values: dict[str, Any], now: datetime) -> None:
        if self._book is not None:
            self._book.update_case(case_id, values, now)
            return
        self.conn.execute(q.UPDATE_CASE, {"case_id": case_id, "updated_at": now, **values})

    # ------------------------------------------------- lines, stock, journals
    def posted_lines(self, case_id: int) -> dict[str, PostedLine]:
        """Every line of a case with its stored row, stock and the journal entry in force."""
        if self._book is not None:
            return self._book.posted_lines(case_id)
        params = {"case_ids": [case_id]}  # the batch's queries, for one case
        lines = self.conn.execute(q.LINES_OF_CASES, params).all()
        if not lines:
            return {}
        counts: Counter[int] = Counter()
        stock: dict[int, dict[tuple[str, str], int]] = {}
        for r in self.conn.execute(q.STOCK_OF_CASES, params):
            counts[r.line_ref] += int(r.n)
            stock.setdefault(r.line_ref, {})[(r.warehouse, r.sku)] = int(r.net)
        credit_counts: Counter[int] = Counter()
        credit: dict[int, dict[tuple[str, int, str], int]] = {}
        for r in self.conn.execute(q.CREDIT_OF_CASES, params):
            credit_counts[r.line_ref] += int(r.n)
            key = (r.sku, int(r.unit_amount), r.currency)
            credit.setdefault(r.line_ref, {})[key] = int(r.net)
        entries = self.conn.execute(q.JOURNALS_OF_CASES, params).all()
        reversed_ids = {e.reverses_id for e in entries if e.reverses_id is not None}
        entry_counts: Counter[int] = Counter(e.line_ref for e in entries)
        live = {
            e.line_ref: e
            for e in entries
            if e.kind != JournalKind.REVERSAL and e.id not in reversed_ids
        }
        postings: dict[int, list[Posting]] = {}
        if live:
            for r in self.conn.execute(
                q.POSTINGS_OF_ENTRIES, {"entry_ids": [e.id for e in live.values()]}
            ):
                postings.setdefault(r.entry_id, []).append(
                    Posting(r.account, int(r.debit), int(r.credit))
                )
        posted: dict[str, PostedLine] = {}
        for line in lines:
            entry = live.get(line.id)
            journal = None
            if entry is not None:
                draft = JournalDraft(
                    JournalKind(entry.kind), entry.currency, tuple(postings[entry.id]), entry.memo
                )
                journal = PostedJournal(entry.id, entry.entry_key, draft)
            posted[line.line_id] = PostedLine(
                id=int(line.id),
                row={c: line._mapping[c] for c in q.LINE_COLUMNS},
                stock_movements=counts[line.id],
                stock={k: v for k, v in stock.get(line.id, {}).items() if v},
                journal_entries=entry_counts[line.id],
                journal=journal,
                credit_movements=credit_counts[line.id],
                credit={k: v for k, v in credit.get(line.id, {}).items() if v},
            )
        return posted

    def save_line(
        self,
        case_id: int,
        outcome: LineOutcome,
        warehouse: str | None,
        posted: PostedLine | None,
        now: datetime,
    ) -> int:
        """Write the line's row where it changed; returns its id."""
        row = line_row(outcome, warehouse)
        if self._book is not None:
            return self._book.save_line(case_id, outcome.line_id, row, posted, now)
        if posted is None:
            return self._insert(
                q.INSERT_LINE,
                {"case_id": case_id, "line_id": outcome.line_id, "updated_at": now, **row},
            )
        if row != posted.row:
            self.conn.execute(q.UPDATE_LINE, {"line_ref": posted.id, "updated_at": now, **row})
        return posted.id

    def add_movement(
        self,
        key: str,
        line_ref: int,
        warehouse: str,
        sku: str,
        quantity: int,
        inbox_id: int | None,
        now: datetime,
        occurred_at: datetime | None = None,
    ) -> None:
        values = {
            "movement_key": key,
            "line_ref": line_ref,
            "warehouse": warehouse,
            "sku": sku,
            "quantity": quantity,
            "inbox_id": inbox_id,
            "created_at": now,
            "occurred_at": occurred_at or now,
        }
        if self._book is not None:
            self._book.add_movement(values)
        else:
            self.conn.execute(q.INSERT_MOVEMENT, values)

    def add_credit_movement(
        self,
        key: str,
        line_ref: int,
        sku: str,
        quantity: int,
        unit_amount: int,
        currency: str,
        inbox_id: int | None,
        now: datetime,
    ) -> None:
        values = {
            "movement_key": key,
            "line_ref": line_ref,
            "sku": sku,
            "quantity": quantity,
            "unit_amount": unit_amount,
            "currency": currency,
            "inbox_id": inbox_id,
            "created_at": now,
        }
        if self._book is not None:
            self._book.add_credit_movement(values)
        else:
            self.conn.execute(q.INSERT_CREDIT, values)

    def add_journal(
        self,
        key: str,
        line_ref: int,
        draft: JournalDraft,
        reverses_id: int | None,
        inbox_id: int | None,
        now: datetime,
    ) -> int:
        values = {
            "entry_key": key,
            "kind": draft.kind.value,
            "line_ref": line_ref,
            "reverses_id": reverses_id,
            "currency": draft.currency,
            "memo": draft.memo,
            "inbox_id": inbox_id,
            "posted_at": now,
        }
        postings = [
            {"account": p.account, "debit": p.debit, "credit": p.credit} for p in draft.postings
        ]
        if self._book is not None:
            return self._book.add_journal(values, draft, postings)
        entry_id = self._insert(q.INSERT_JOURNAL, values)
        self.conn.execute(q.INSERT_POSTINGS, [{**p, "entry_id": entry_id} for p in postings])
        return entry_id

    # ----------------------------------------------------------- exceptions
    def open_exceptions(self, case_id: int) -> list[OpenException]:
        if self._book is not None:
            return self._book.open_exceptions(case_id)
        rows = self.conn.execute(q.OPEN_EXCEPTIONS_OF_CASE, {"case_id": case_id})
        return [OpenException(r.id, r.code, r.line_id) for r in rows]

    def add_exception(
        self,
        code: str,
        message: str,
        raw: str,
        now: datetime,
        case_id: int | None = None,
        line_id: str | None = None,
        inbox_id: int | None = None,
        subject: str | None = None,
    ) -> int:
        values = {
            "code": code,
            "status": "open",
            "case_id": case_id,
            "line_id": line_id,
            "inbox_id": inbox_id,
            "subject": subject,
            "message": message,
            "raw": raw,
            "created_at": now,
        }
        if self._book is not None:
            return self._book.add_exception(values)
        return self._insert(q.INSERT_EXCEPTION, values)

    def close_exception(
        self, exception_id: int, status: str, now: datetime, by: str, resolution: str, note: str
    ) -> None:
        values = {
            "exception_id": exception_id,
            "status": status,
            "now": now,
            "by": by,
            "resolution": resolution,
            "note": note,
        }
        if self._book is not None:
            self._book.close_exception(values)
        else:
            self.conn.execute(q.CLOSE_EXCEPTION, values)

    def _exception_query(self) -> Any:
        line_units = (
            select(return_lines.c.units_received)
            .where(
                return_lines.c.case_id == exceptions.c.case_id,
                return_lines.c.line_id == exceptions.c.line_id,
            )
            .scalar_subquery()
        )
        return select(
            exceptions,
            return_cases.c.case_key,
            return_cases.c.return_id,
            func.coalesce(line_units, 0).label("units_received"),
        ).outerjoin(return_cases, return_cases.c.id == exceptions.c.case_id)

    def _record(self, row: Any, actions: tuple[dict[str, Any], ...] = ()) -> ExceptionRecord:
        return ExceptionRecord(
            id=row.id,
            code=row.code,
            status=row.status,
            message=row.message,
            raw=row.raw,
            created_at=aware(row.created_at),
            case_key=row.case_key,
            return_id=row.return_id,
            line_id=row.line_id,
            inbox_id=row.inbox_id,
            units_received=int(row.units_received),
            resolved_at=aware_or_none(row.resolved_at),
            resolved_by=row.resolved_by,
            resolution=row.resolution,
            resolution_note=row.resolution_note,
            actions=actions,
        )

    def exception(self, exception_id: int) -> ExceptionRecord | None:
        row = self.conn.execute(
            self._exception_query().where(exceptions.c.id == exception_id)
        ).first()
        if row is None:
            return None
        actions = tuple(
            {
                "action": a.action,
                "actor": a.actor,
                "at": aware(a.at),
                "note": a.note,
                "detail": json.loads(a.detail),
            }
            for a in self.conn.execute(
                select(exception_actions)
                .where(exception_actions.c.exception_id == exception_id)
                .order_by(exception_actions.c.id)
            )
        )
        return self._record(row, actions)

    def list_exceptions(
        self,
        status: str | None,
        code: str | None,
        limit: int,
        case_key: str | None = None,
        line_id: str | None = None,
        after_id: int | None = None,
    ) -> list[ExceptionRecord]:
        query = self._exception_query()
        if after_id is not None:
            query = query.where(exceptions.c.id > after_id)
        for column, value in (
            (exceptions.c.status, status),
            (exceptions.c.code, code),
            (return_cases.c.case_key, case_key),
            (exceptions.c.line_id, line_id),
        ):
            if value is not None:
                query = query.where(column == value)
        return [
            self._record(r) for r in self.conn.execute(query.order_by(exceptions.c.id).limit(limit))
        ]

    def add_exception_action(
        self,
        exception_id: int,
        action: str,
        actor: str,
        now: datetime,
        note: str,
        detail: dict[str, Any],
    ) -> None:
        self.conn.execute(
            insert(exception_actions).values(
                exception_id=exception_id,
                action=action,
                actor=actor,
                at=now,
                note=note,
                detail=json.dumps(detail, sort_keys=True),
            )
        )

    # ------------------------------------------------------------ audit log
    def append_audit(self, entry: AuditEntry) -> AuditRecord:
        return append_audit(self.conn, entry)

    # --------------------------------------------------------------- outbox
    def add_to_outbox(self, topic: str, key: str, payload: dict[str, Any], now: datetime) -> None:
        """A message for a partner, in this transaction (inside a pipeline batch it is written
        with the batch's other rows when the transaction ends, by ``add_to_outbox_many``)."""
        if self._book is not None:
            self._outbox.append((topic, key, payload, now))
        else:
            self.add_to_outbox_many([(topic, key, payload, now)])

    def add_to_outbox_many(
        self, messages: Sequence[tuple[str, str, dict[str, Any], datetime]]
    ) -> None:
        """Write messages (topic, key, payload, created at) to the outbox, one statement."""
        insert_many(
            self.conn,
            outbox,
            [
                {
                    "topic": topic,
                    "message_key": key,
                    "payload": json.dumps(payload, sort_keys=True),
                    "status": "pending",
                    "attempts": 0,
                    "created_at": now,
                }
                for topic, key, payload, now in messages
            ],
        )

    def settle_overstated_credit(self, case_key: str, line_id: str, now: datetime) -> int:
        """A person agreed the overstated credit of a line with Amazon: it leaves the netting."""
        case = self.case_by_key(case_key)
        if case is None:
            return 0
        rows = self.conn.execute(
            select(outbox.c.id, outbox.c.payload).where(
                outbox.c.topic == "amazon.credit_note", outbox.c.status == "overstated"
            )
        )
        ids = [
            r.id
            for r in rows
            if (p := json.loads(r.payload)).get("case") == case.id and p.get("line_id") == line_id
        ]
        if ids:
            self.conn.execute(
                update(outbox).where(outbox.c.id.in_(ids)).values(status="agreed", sent_at=now)
            )
        return len(ids)

    def void_credit_note(self, number: str, reason: str, by: str, now: datetime) -> bool:
        c = credit_notes.c
        done = self.conn.execute(
            update(credit_notes)
            .where(c.number == number, c.status == "numbered")
            .values(status="voided", voided_at=now, voided_by=by, void_reason=reason)
        )
        return bool(done.rowcount)

    def release_amazon_messages(self, case_key: str, line_id: str) -> int:
        """Put a line's unsynced Amazon messages (stock, credit) back in the queue for the next
        cycle. A credit message keeps its credit-note number: it goes again as the same note."""
        case = self.case_by_key(case_key)
        if case is None:
            return 0
        rows = self.conn.execute(
            select(outbox.c.id, outbox.c.payload).where(
                outbox.c.topic.in_(["amazon.inventory", "amazon.credit_note"]),
                outbox.c.status != "sent",
            )
        )
        ids = [
            r.id
            for r in rows
            if (p := json.loads(r.payload)).get("case") == case.id and p.get("line_id") == line_id
        ]
        if ids:
            self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(status="pending", submission_id=None)
            )
        return len(ids)


def line_row(outcome: LineOutcome, warehouse: str | None) -> dict[str, Any]:
    """The stored form of a line outcome (to_row)."""
    u = outcome.units
    return {
        "kind": outcome.kind,
        "status": outcome.status.value,
        "sku_scanned": outcome.sku_scanned,
        "sku": outcome.sku,
        "warehouse": warehouse,
        "reason": outcome.reason,
        "amazon_reason": outcome.amazon_reason,
        "grade": outcome.grade,
        "disposition": outcome.disposition,
        "route": outcome.route.value if outcome.route else None,
        "expected_qty": outcome.expected_qty,
        "units_received": u.received,
        "units_restocked": u.restocked,
        "units_written_off": u.written_off,
        "units_liquidated": u.liquidated,
        "units_refurbished": u.refurbished,
        "units_returned_to_vendor": u.returned_to_vendor,
        "units_in_exception": u.in_exception,
        "units_pending": u.pending,
        "facts_digest": outcome.digest,
    }


@contextmanager
def transaction(engine: Engine) -> Iterator[SqlStore]:
    """One unit of work: commits when the block ends, rolls back when it raises."""
    try:
        with engine.begin() as connection:
            store = SqlStore(connection)
            yield store
            store.flush()
    except DBAPIError as exc:
        # Lost connections, locks held past the timeout, a server restarting: the work is
        # intact and can be retried, unlike a constraint violation (a defect, re-raised).
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            raise StoreUnavailable(f"the database did not answer: {exc.orig}") from exc
        raise
