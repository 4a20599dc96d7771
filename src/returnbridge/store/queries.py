"""Hot-path statements, built once and named: each execution only binds parameters.

Building a SQLAlchemy statement and its cache key costs more than running it on SQLite, so the
statements the pipeline runs per event live here as module constants with bind parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update

from returnbridge.store.tables import (
    case_events,
    credit_movements,
    exceptions,
    inbox,
    journal_entries,
    journal_lines,
    outbox,
    return_cases,
    return_lines,
    stock_movements,
)

LINE_COLUMNS = (
    "kind", "status", "sku_scanned", "sku", "warehouse", "reason", "amazon_reason", "grade",
    "disposition", "route", "expected_qty", "units_received", "units_restocked",
    "units_written_off", "units_liquidated", "units_refurbished", "units_returned_to_vendor",
    "units_in_exception", "units_pending", "facts_digest",
)  # fmt: skip

_CLAIM_COLUMNS = (inbox.c.id, inbox.c.source, inbox.c.event_id, inbox.c.event_type,
                  inbox.c.payload, inbox.c.attempts)  # fmt: skip

# One writer (SQLite): the first pending events in id order. The batch is a prefix of what is
# pending, so each case's events come in the order they arrived.
CLAIM_INBOX = (
    select(*_CLAIM_COLUMNS)
    .where(inbox.c.status == "pending")
    .order_by(inbox.c.id)
    .limit(bindparam("limit"))
)  # fmt: skip


# One writer (SQLite), with followers: the first pending events, and then the later pending
# events of their cases (up to :followers more), so that a backlog's case is loaded once for all
# its events instead of once per batch. Every earlier pending event of those cases is among the
# first ones, so each case's events still come as a prefix, in arrival order. The followers are
# found through the partial (case_key, id) index of pending events, case by case, so a claim
# costs the same however many events are pending; SQLite uses a partial index only where the
# query names its condition literally (status = 'pending', not a bound parameter), and INDEXED
# BY makes that plan a promise (the statement fails rather than fall back to a scan).
CLAIM_INBOX_FOLLOWERS = text("""
WITH first AS (
    SELECT id, case_key FROM inbox INDEXED BY ix_inbox_pending_id
    WHERE status = 'pending' ORDER BY id LIMIT :limit
), picked AS (
    SELECT id FROM first
    UNION
    SELECT id FROM inbox INDEXED BY ix_inbox_pending_case
    WHERE status = 'pending' AND case_key IN (SELECT case_key FROM first)
    ORDER BY id LIMIT :limit + :followers
)
SELECT id, source, event_id, event_type, payload, attempts FROM inbox
WHERE id IN (SELECT id FROM picked) ORDER BY id
""")


# Several workers (PostgreSQL): lock the first pending events no other transaction holds (SKIP
# LOCKED) and up to :followers later pending events of their cases that no one holds either;
# then keep only the events with no earlier pending event of their case outside this batch
# (that one is held by another worker, and this case waits for it to commit). Each case's
# events are found through the (case_key, id) index of pending events, one case at a time
# (LATERAL ... LIMIT), so a claim costs the same with a thousand events pending or a million.
# The locks are the lease: they end with the transaction, and with the session if the worker
# dies.
CLAIM_INBOX_SHARED = text("""
WITH taken AS (
    SELECT id, case_key FROM inbox WHERE status = 'pending'
    ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
), candidates AS (
    SELECT later.id
    FROM (SELECT DISTINCT case_key FROM taken WHERE case_key IS NOT NULL) AS k
    CROSS JOIN LATERAL (
        SELECT e.id FROM inbox AS e
        WHERE e.status = 'pending' AND e.case_key = k.case_key
          AND e.id NOT IN (SELECT id FROM taken)
        ORDER BY e.id LIMIT :followers
    ) AS later
), more AS (
    SELECT id, case_key FROM inbox
    WHERE id IN (SELECT id FROM candidates) AND status = 'pending'
    ORDER BY id LIMIT :followers FOR UPDATE SKIP LOCKED
), batch AS (
    SELECT id, case_key FROM taken UNION ALL SELECT id, case_key FROM more
), gaps AS (
    SELECT k.case_key, first_outside.id
    FROM (SELECT DISTINCT case_key FROM batch WHERE case_key IS NOT NULL) AS k
    CROSS JOIN LATERAL (
        SELECT e.id FROM inbox AS e
        WHERE e.status = 'pending' AND e.case_key = k.case_key
          AND e.id NOT IN (SELECT id FROM batch)
        ORDER BY e.id LIMIT 1
    ) AS first_outside
)
SELECT i.id, i.source, i.event_id, i.event_type, i.payload, i.attempts
FROM batch AS b JOIN inbox AS i ON i.id = b.id
WHERE NOT EXISTS (SELECT 1 FROM gaps AS g WHERE g.case_key = b.case_key AND g.id < b.id)
ORDER BY i.id
""")

CLAIM_INBOX_ROW = select(*_CLAIM_COLUMNS).where(
    inbox.c.id == bindparam("inbox_id"), inbox.c.status == "pending"
)

# Transaction-scoped advisory locks on text keys (PostgreSQL), one round trip, taken in the
# order of their hashes (one total order for every worker, so two batches cannot deadlock).
LOCK_KEYS = text(
    "SELECT count(pg_advisory_xact_lock(h)) FROM ("
    " SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k"
    " ORDER BY h) AS ordered"
)

# PostgreSQL: ids drawn in advance from a table's own sequence (its rows are then inserted
# with them, in one statement, once the transaction has decided them).
NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
)

ANALYZE_INBOX = text("ANALYZE inbox")

# PostgreSQL: the pipeline's tables whose planner statistics are stale by autovacuum's own
# default rule (changed rows since the last ANALYZE over 10 % of the table, and over 1,000),
# a table never analyzed counting as empty. Where autovacuum runs, it keeps them fresh and this
# finds nothing; where it is off, or lags behind a bulk drain, a never-analyzed return_cases
# is planned as a few pages: a batch's lookups by order became sequential scans at about
# 170,000 cases, and a million-event drain slowed to a third.
STALE_STATISTICS = text("""
SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
WHERE s.relname = ANY(CAST(:tables AS text[]))
  AND s.n_mod_since_analyze > 1000 + 0.1 * greatest(c.reltuples, 0)
ORDER BY s.relname
""")
PIPELINE_TABLES = ("inbox", "return_cases", "case_events", "return_lines", "stock_movements",
                   "credit_movements", "journal_entries", "journal_lines", "exceptions",
                   "outbox")  # fmt: skip

# PostgreSQL: the stored events among a batch's (the duplicates), by one array of ids.
INBOX_IDS = text(
    "SELECT id, event_id FROM inbox WHERE source = :source"
    " AND event_id = ANY(CAST(:event_ids AS VARCHAR[]))"
)

MARK_INBOX = (
    update(inbox)
    .where(inbox.c.id == bindparam("inbox_id"))
    .values(status=bindparam("status"), processed_at=bindparam("now"),
            error=bindparam("error"), attempts=inbox.c.attempts + 1,
            processed_by=bindparam("worker"))
)  # fmt: skip

# PostgreSQL: a batch's applied events marked in one statement (an executemany of MARK_INBOX
# is one UPDATE per event for the server to plan and run: a seventh of a worker's time).
MARK_PROCESSED_ARRAYS = text("""
UPDATE inbox SET status = 'processed', processed_at = v.at, error = NULL,
       attempts = inbox.attempts + 1, processed_by = v.worker
FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[]), CAST(:workers AS varchar[]))
     AS v(id, at, worker)
WHERE inbox.id = v.id
""")

CASE_COLUMNS = (return_cases.c.id, return_cases.c.case_key, return_cases.c.return_id,
                return_cases.c.order_ref)  # fmt: skip

CASE_BY_KEY = select(*CASE_COLUMNS).where(return_cases.c.case_key == bindparam("case_key"))

PROVISIONAL_CASE_OF_ORDER = (
    select(*CASE_COLUMNS)
    .where(return_cases.c.order_ref == bindparam("order_ref"), return_cases.c.return_id.is_(None))
    .order_by(return_cases.c.id)
    .limit(1)
)  # fmt: skip

CASE_OF_ORDER = (
    select(*CASE_COLUMNS)
    .where(return_cases.c.order_ref == bindparam("order_ref"))
    .order_by(return_cases.c.id)
    .limit(1)
)


INSERT_CASE = insert(return_cases)
INSERT_CASE_EVENT = insert(case_events)

CASE_EVENTS = (
    select(case_events.c.inbox_id, case_events.c.body, inbox.c.payload)
    .join(inbox, inbox.c.id == case_events.c.inbox_id)
    .where(case_events.c.case_id == bindparam("case_id"))
    .order_by(case_events.c.id)
)

UPDATE_CASE = (
    update(return_cases)
    .where(return_cases.c.id == bindparam("case_id"))
    .values({name: bindparam(name) for name in (
        "status", "provisional", "retailer_code", "order_number", "warehouse", "rma_id",
        "order_ref", "updated_at")})
)  # fmt: skip

POSTINGS_OF_ENTRIES = (
    select(journal_lines.c.entry_id, journal_lines.c.account, journal_lines.c.debit,
           journal_lines.c.credit)
    .where(journal_lines.c.entry_id.in_(bindparam("entry_ids", expanding=True)))
    .order_by(journal_lines.c.id)
)  # fmt: skip

INSERT_LINE = insert(return_lines)

UPDATE_LINE = (
    update(return_lines)
    .where(return_lines.c.id == bindparam("line_ref"))
    .values({c: bindparam(c) for c in (*LINE_COLUMNS, "updated_at")})
)

INSERT_MOVEMENT = insert(stock_movements)
INSERT_CREDIT = insert(credit_movements)
INSERT_JOURNAL = insert(journal_entries)
INSERT_POSTINGS = insert(journal_lines)

OPEN_EXCEPTIONS_OF_CASE = (
    select(exceptions.c.id, exceptions.c.code, exceptions.c.line_id)
    .where(exceptions.c.case_id == bindparam("case_id"), exceptions.c.status == "open")
    .order_by(exceptions.c.id)
)

INSERT_EXCEPTION = insert(exceptions)

CLOSE_EXCEPTION = (
    update(exceptions)
    .where(exceptions.c.id == bindparam("exception_id"), exceptions.c.status == "open")
    .values(status=bindparam("status"), resolved_at=bindparam("now"),
            resolved_by=bindparam("by"), resolution=bindparam("resolution"),
            resolution_note=bindparam("note"))
)  # fmt: skip

INSERT_OUTBOX = insert(outbox)

# ------------------------------------------------------------------ a batch's cases at once
# The unit of work of a batch (store/casebook.py) loads the state of all its cases with these,
# one statement per table for the whole batch instead of one per event.

CASES_BY_KEYS = select(*CASE_COLUMNS).where(
    return_cases.c.case_key.in_(bindparam("keys", expanding=True))
)

CASES_BY_ORDERS = select(*CASE_COLUMNS).where(
    return_cases.c.order_ref.in_(bindparam("orders", expanding=True))
)

_CASE_IDS: Any = bindparam("case_ids", expanding=True)

EVENTS_OF_CASES = (
    select(case_events.c.case_id, case_events.c.inbox_id, case_events.c.body, inbox.c.payload)
    .join(inbox, inbox.c.id == case_events.c.inbox_id)
    .where(case_events.c.case_id.in_(_CASE_IDS))
    .order_by(case_events.c.id)
)

LINES_OF_CASES = select(return_lines.c.case_id, return_lines.c.id, return_lines.c.line_id,
                        *(return_lines.c[c] for c in LINE_COLUMNS)).where(
    return_lines.c.case_id.in_(_CASE_IDS)
).order_by(return_lines.c.id)  # fmt: skip

STOCK_OF_CASES = (
    select(stock_movements.c.line_ref, stock_movements.c.warehouse, stock_movements.c.sku,
           func.count().label("n"), func.sum(stock_movements.c.quantity).label("net"))
    .join(return_lines, return_lines.c.id == stock_movements.c.line_ref)
    .where(return_lines.c.case_id.in_(_CASE_IDS))
    .group_by(stock_movements.c.line_ref, stock_movements.c.warehouse, stock_movements.c.sku)
)  # fmt: skip

CREDIT_OF_CASES = (
    select(credit_movements.c.line_ref, credit_movements.c.sku, credit_movements.c.unit_amount,
           credit_movements.c.currency, func.count().label("n"),
           func.sum(credit_movements.c.quantity).label("net"))
    .join(return_lines, return_lines.c.id == credit_movements.c.line_ref)
    .where(return_lines.c.case_id.in_(_CASE_IDS))
    .group_by(credit_movements.c.line_ref, credit_movements.c.sku,
              credit_movements.c.unit_amount, credit_movements.c.currency)
)  # fmt: skip

JOURNALS_OF_CASES = (
    select(journal_entries.c.id, journal_entries.c.line_ref, journal_entries.c.entry_key,
           journal_entries.c.kind, journal_entries.c.reverses_id, journal_entries.c.currency,
           journal_entries.c.memo)
    .join(return_lines, return_lines.c.id == journal_entries.c.line_ref)
    .where(return_lines.c.case_id.in_(_CASE_IDS))
    .order_by(journal_entries.c.id)
)  # fmt: skip

OPEN_EXCEPTIONS_OF_CASES = (
    select(exceptions.c.case_id, exceptions.c.id, exceptions.c.code, exceptions.c.line_id)
    .where(exceptions.c.case_id.in_(_CASE_IDS), exceptions.c.status == "open")
    .order_by(exceptions.c.id)
)
