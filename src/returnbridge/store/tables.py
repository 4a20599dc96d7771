"""The schema, as SQLAlchemy Core tables. One history (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only

# Every inbound event, raw, keyed by (source, event id), stored before it is acknowledged.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("case_key", String(250)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | processed | invalid | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    Column("processed_at", DateTime(timezone=True)),
    Column("error", Text),
    Column("processed_by", String(100)),  # the worker that applied it (host:pid)
    UniqueConstraint("source", "event_id", name="uq_inbox_source_event"),
    Index("ix_inbox_status_id", "status", "id"),
    Index(
        "ix_inbox_pending_id",
        "id",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
    Index(
        "ix_inbox_pending_case",
        "case_key",
        "id",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
)

catalog_items = Table(
    "catalog_items",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("asin", String(10)),
    Column("ean", String(14)),
    Column("aliases", Text, nullable=False, default="[]"),  # JSON list
    Column("active", Boolean, nullable=False),
    Column("non_inventory", Boolean, nullable=False),
    Column("unit_cost", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", Text, nullable=False, default=""),
)

# Versioned configuration documents (the mappings file), kept as loaded.
config_documents = Table(
    "config_documents",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
)

return_cases = Table(
    "return_cases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_key", String(250), nullable=False, unique=True),
    Column("return_id", String(100)),
    Column("order_ref", String(100)),
    Column("retailer_code", String(64)),
    Column("order_number", String(100)),
    Column("warehouse", String(64)),
    Column("rma_id", String(100)),
    Column("status", String(32), nullable=False),
    Column("provisional", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_return_cases_return_id", "return_id"),
    Index("ix_return_cases_order_ref", "order_ref"),
)

# The events of each case, as read: the case is re-derived from this set.
case_events = Table(
    "case_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("return_cases.id"), nullable=False),
    Column("inbox_id", Id, ForeignKey("inbox.id"), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Index("ix_case_events_case_id", "case_id"),
)

return_lines = Table(
    "return_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("return_cases.id"), nullable=False),
    Column("line_id", String(100), nullable=False),
    Column("kind", String(16), nullable=False),  # product | charge
    Column("status", String(32), nullable=False),
    Column("sku_scanned", String(200)),
    Column("sku", String(64)),
    Column("warehouse", String(64)),
    Column("reason", String(64)),
    Column("amazon_reason", String(64)),
    Column("grade", String(16)),
    Column("disposition", String(64)),
    Column("route", String(32)),
    Column("expected_qty", Integer),
    Column("units_received", Integer, nullable=False, default=0),
    Column("units_restocked", Integer, nullable=False, default=0),
    Column("units_written_off", Integer, nullable=False, default=0),
    Column("units_liquidated", Integer, nullable=False, default=0),
    Column("units_refurbished", Integer, nullable=False, default=0),
    Column("units_returned_to_vendor", Integer, nullable=False, default=0),
    Column("units_in_exception", Integer, nullable=False, default=0),
    Column("units_pending", Integer, nullable=False, default=0),
    Column("facts_digest", String(32), nullable=False, default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("case_id", "line_id", name="uq_return_lines_case_line"),
    Index("ix_return_lines_sku", "sku"),
)

# Sellable stock changes: only a confirmed sellable grade writes here.
stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("movement_key", String(300), nullable=False, unique=True),
    Column("line_ref", Id, ForeignKey("return_lines.id"), nullable=False),
    Column("warehouse", String(64), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("inbox_id", Id, ForeignKey("inbox.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Business time: when the warehouse graded the units back to stock (or out of it), which a
    # stock snapshot's as_of is compared with. Null before migration 0012 (created_at stands in).
    Column("occurred_at", DateTime(timezone=True)),
    CheckConstraint("quantity <> 0", name="nonzero"),
    Index("ix_stock_movements_line_ref", "line_ref"),
)

# What each return line has credited Amazon (returns credit notes), as signed deltas: the sum
# per (line, SKU, unit amount, currency) is the credit in force. Never updated, never deleted.
credit_movements = Table(
    "credit_movements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("movement_key", String(300), nullable=False, unique=True),
    Column("line_ref", Id, ForeignKey("return_lines.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("inbox_id", Id, ForeignKey("inbox.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("quantity <> 0", name="nonzero"),
    Index("ix_credit_movements_line_ref", "line_ref"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entry_key", String(300), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("line_ref", Id, ForeignKey("return_lines.id"), nullable=False),
    Column("reverses_id", Id, ForeignKey("journal_entries.id"), unique=True),
    Column("currency", String(3), nullable=False),
    Column("memo", Text, nullable=False),
    Column("inbox_id", Id, ForeignKey("inbox.id")),
    Column("posted_at", DateTime(timezone=True), nullable=False),
    Index("ix_journal_entries_line_ref", "line_ref"),
)

journal_lines = Table(
    "journal_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entry_id", Id, ForeignKey("journal_entries.id"), nullable=False),
    Column("account", String(64), nullable=False),
    Column("debit", BigInteger, nullable=False),
    Column("credit", BigInteger, nullable=False),
    CheckConstraint("debit >= 0 AND credit >= 0", name="nonnegative"),
    Index("ix_journal_lines_entry_id", "entry_id"),
)

exceptions = Table(
    "exceptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved | ignored
    Column("case_id", Id, ForeignKey("return_cases.id")),
    Column("line_id", String(100)),
    Column("inbox_id", Id, ForeignKey("inbox.id")),
    Column("message", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolved_by", String(100)),
    Column("resolution", String(32)),
    Column("resolution_note", Text),
    # What an exception that is not about a return line is about (a stock hold's
    # ``position:<warehouse>/<sku>``, ``warehouse:<id>``, ``dc:<code>``): one open per subject.
    Column("subject", String(200)),
    Index("ix_exceptions_status_code", "status", "code"),
    Index("ix_exceptions_case_id", "case_id"),
)

# Append-only: every action a person took on an exception, with who and when.
exception_actions = Table(
    "exception_actions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("exception_id", Id, ForeignKey("exceptions.id"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
)

# Messages for Amazon and the ERP, written in the transaction of the change that causes them.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("topic", String(64), nullable=False),
    Column("message_key", String(300), nullable=False, unique=True),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | sent
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("submission_id", Id, ForeignKey("amazon_submissions.id")),
    # The credit-note number a credit message was given when first prepared: kept for good, so
    # a resend always carries the same number and Amazon can refuse it as a duplicate.
    Column("document", String(64)),
    Index("ix_outbox_status_id", "status", "id"),
    Index("ix_outbox_submission_id", "submission_id"),
)

# A clearing cycle: one cut-off at which pending changes go to Amazon together. What talking to
# Amazon cost is added up per run (``/metrics`` sums it): submission requests (retries included),
# retries, "too many requests" answers, and items Amazon rejected. Null before migration 0010,
# and for requests when the connector does not count them.
clearing_cycles = Table(
    "clearing_cycles",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("amazon_requests", Integer),
    Column("amazon_retries", Integer),
    Column("amazon_throttled", Integer),
    Column("items_rejected", Integer),
)

# One request to Amazon as prepared, sent and confirmed. Prepared before it is sent, so a crash
# in between resends the same body (absolute quantities: a resend is harmless).
amazon_submissions = Table(
    "amazon_submissions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("cycle_id", Id, ForeignKey("clearing_cycles.id"), nullable=False),
    Column("operation", String(32), nullable=False),  # inventory | credit_notes
    Column("warehouse", String(64)),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # prepared|sent|success|failure|stuck|refused
    Column("transaction_id", String(100)),
    Column("prepared_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("final_at", DateTime(timezone=True)),
    Column("errors", Text),
    Index("ix_amazon_submissions_status", "status"),
)

# What Amazon confirmed it holds, per warehouse and item, as of the last successful update.
amazon_positions = Table(
    "amazon_positions",
    metadata,
    Column("warehouse", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("synced_at", DateTime(timezone=True), nullable=False),
)

# Credit-note series: the last number given in each (one per Amazon vendor account). A number is
# taken in the transaction that prepares its note, so a rollback gives it back: no gaps.
credit_note_series = Table(
    "credit_note_series",
    metadata,
    Column("series", String(32), primary_key=True),
    Column("last_number", Integer, nullable=False),
)

# Every credit note returnbridge numbered, as numbered: its date and items are fixed then, and a
# resend carries them unchanged. A note that can never be sent is voided with a reason, never
# deleted or renumbered, so the series stays whole for a VAT reader (docs/finance.md).
credit_notes = Table(
    "credit_notes",
    metadata,
    Column("number", String(64), primary_key=True),
    Column("series", String(32), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("returns_reference", String(100), nullable=False),
    Column("total", BigInteger, nullable=False),  # minor units
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # numbered | voided
    Column("voided_at", DateTime(timezone=True)),
    Column("voided_by", String(100)),
    Column("void_reason", Text),
    UniqueConstraint("series", "sequence", name="uq_credit_notes_series_sequence"),
)

# The stock authority's latest word per (Amazon warehouse, SKU): a snapshot of the WMS/ERP's
# available units at ``as_of`` (business time). A row is replaced only by a newer ``as_of``.
stock_snapshots = Table(
    "stock_snapshots",
    metadata,
    Column("warehouse", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("available", Integer, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("source", String(300), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("available >= 0", name="available_not_negative"),
)

# Where each polled feed stands: the cursor to ask for next, stored in the same transaction as
# the events it returned, so a crash never skips or repeats a page in effect.
feed_cursors = Table(
    "feed_cursors",
    metadata,
    Column("feed", String(64), primary_key=True),
    Column("cursor", String(500), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Amazon Vendor Central export facts (docs/amazon-exports.md), stored as read and never
# processed: finance reconciles against them. Each row has its natural key, so importing a file
# again changes nothing. Refunds at first scan are not here: they are inbox events.
amazon_return_requests = Table(
    "amazon_return_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", String(100), nullable=False, unique=True),
    Column("vendor_code", String(20), nullable=False),
    Column("order_id", String(100), nullable=False),
    Column("asin", String(10), nullable=False),
    Column("quantity_requested", Integer, nullable=False),
    Column("quantity_approved", Integer, nullable=False),
    Column("refund_amount", BigInteger, nullable=False),  # minor units
    Column("currency", String(3), nullable=False),
    Column("condition", String(16), nullable=False),  # sellable | damaged
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("rma_id", String(100)),  # RMA or VRET id
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Index("ix_amazon_return_requests_order_id", "order_id"),
)

# Customer refunds other than at first scan: what Amazon expects to be credited for.
amazon_standard_refunds = Table(
    "amazon_standard_refunds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("refund_id", String(100), nullable=False, unique=True),
    Column("order_id", String(100), nullable=False),
    Column("asin", String(10), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),  # minor units
    Column("currency", String(3), nullable=False),
    Column("refunded_at", DateTime(timezone=True), nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Index("ix_amazon_standard_refunds_order_id", "order_id"),
)

# Lines of Vendor Central payments: which invoice or credit note (RBCN-...) was paid or taken
# back, signed as Amazon shows it, and what was deducted.
amazon_remittance_lines = Table(
    "amazon_remittance_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("payment_id", String(100), nullable=False),
    Column("document_number", String(100), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("document_type", String(16), nullable=False),  # invoice | credit_note
    Column("amount", BigInteger, nullable=False),  # minor units, signed
    Column("currency", String(3), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=False),
    Column("deductions", Text, nullable=False, default="[]"),  # JSON [{"type", "amount"}]
    Column("deductions_total", BigInteger, nullable=False, default=0),
    Column("description", Text, nullable=False, default=""),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint(
        "payment_id", "document_number", "line_no", name="uq_amazon_remittance_lines_key"
    ),
    Index("ix_amazon_remittance_lines_document_number", "document_number"),
)

# Webhook deliveries refused before reaching the inbox (bad signature, stale, too large), kept
# raw for a person to inspect; only the newest ones are kept (store/webhooks.py), so a flood of
# forged requests cannot grow it without bound.
webhook_rejections = Table(
    "webhook_rejections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(32), nullable=False),
    Column("status", Integer, nullable=False),  # the HTTP status answered
    Column("code", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("webhook_id", String(200)),
    Column("client", String(100)),
    Column("size", BigInteger, nullable=False),  # bytes received (or declared, if larger)
    Column("truncated", Boolean, nullable=False),
    Column("body", Text, nullable=False),
)

# ERP export batches (docs/erp-export.md): every pending `erp.journal` and `erp.stock` message at
# export time, recorded with the messages it settles in one transaction before its files are
# written, so a crash in between writes the same batch again and nothing goes out twice or never.
erp_exports = Table(
    "erp_exports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_key", String(100), nullable=False, unique=True),  # erp-<first>-<last outbox id>
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("first_outbox_id", Id, nullable=False),
    Column("last_outbox_id", Id, nullable=False),
    Column("entries", Integer, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # recorded | written | delivered | refused
    Column("written_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),  # deliveries tried (runs, not retries)
    Column("answer", Text),  # the ERP's last answer (status and body), kept for a person
    Index("ix_erp_exports_status_id", "status", "id"),
)

# Which outbox message went in which ERP batch: a message is in one batch at most (its key).
erp_export_messages = Table(
    "erp_export_messages",
    metadata,
    Column("outbox_id", Id, ForeignKey("outbox.id"), primary_key=True),
    Column("export_id", Id, ForeignKey("erp_exports.id"), nullable=False),
    Index("ix_erp_export_messages_export_id", "export_id"),
)

# API tokens (docs/operations.md#api-tokens-and-the-audit-log): only a token's SHA-256 is kept,
# never the token; `prefix` is its non-secret start, to tell tokens apart in `tokens list`.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),  # a person or a system; one active per name
    Column("role", String(16), nullable=False),  # viewer | ops | finance | admin
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),  # refreshed at most once a minute
    CheckConstraint("role in ('viewer', 'ops', 'finance', 'admin')", name="role"),
    Index("ix_api_tokens_name", "name"),
)

# Who did what, when, before and after: append-only and hash-chained (domain/audit_log.py).
# Ids are given by the writer (last id + 1, under a lock), so they run without gaps and a
# deleted row shows. Triggers refuse UPDATE and DELETE (migration 0008).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_kind", String(8), nullable=False),  # token | cli
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("before", Text),  # canonical JSON, or NULL
    Column("after", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    CheckConstraint("actor_kind in ('token', 'cli')", name="actor_kind"),
    Index("ix_audit_log_target", "target"),
)

# Alerts (docs/operations.md#alerts-and-dashboards): one row per condition, from the evaluation
# that first found it firing to the one that found it gone. `active_key` is the key while the
# alert fires and NULL once resolved: unique, so a condition has one firing row at most, even
# with two evaluators at once. The notify_* columns hold what is still owed to the webhook.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),  # e.g. QUEUE_DEPTH:inbox
    Column("active_key", String(300), unique=True),
    Column("name", String(64), nullable=False),
    Column("severity", String(16), nullable=False),  # warning | critical
    Column("source", String(16), nullable=False),  # state | cycle
    Column("summary", Text, nullable=False),
    Column("runbook", String(200), nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("seen_count", Integer, nullable=False, default=1),
    Column("notified_at", DateTime(timezone=True)),  # the firing notification went out
    Column("resolve_notified_at", DateTime(timezone=True)),  # the resolution went out
    Column("notified_via", String(16)),  # webhook | log
    Column("notify_attempts", Integer, nullable=False, default=0),
    Column("notify_after", DateTime(timezone=True)),  # a delivery in flight holds it until then
    Column("notify_error", Text),
    CheckConstraint("(active_key IS NULL) = (resolved_at IS NOT NULL)", name="active"),
    Index("ix_alerts_key", "key"),
)

# The rejection-rate rule counts the Amazon messages answered in a recent window: by this index
# it reads that window only, not every message ever sent.
Index("ix_outbox_sent_at", outbox.c.sent_at)
