"""The ERP journal export: the journals and stock adjustments of each cycle as a file pair,
and optionally POSTed.

An export run has three steps, each safe to repeat (docs/erp-export.md):

1. **record**: every ``erp.journal`` and ``erp.stock`` outbox message still pending, in outbox
   id order, becomes one *batch* named ``erp-<first outbox id>-<last outbox id>``. The batch and
   the messages it settles are committed in one transaction before any file exists, so a
   message is in exactly one batch (the link table's key) and never pending again.
2. **write**: every batch recorded but not yet written gets its CSV and JSON-lines files: one
   row per journal line, and one ``stock_adjustment`` row per stock movement (no money: the
   WMS/ERP books the units into on-hand, whoever tells Amazon the warehouse's stock). The rows
   are rebuilt from stored, immutable data (the messages, their journal entries and stock
   movements), so a crash between recording and writing writes the very same files next run.
3. **deliver** (when an ERP endpoint is configured): every written batch not yet delivered is
   POSTed, oldest first, under the idempotency key of its name. A 2xx delivers it; a 4xx
   refuses it (the ERP's answer is kept for a person); an ERP out of reach leaves it, and the
   batches after it, for the next run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from returnbridge.domain.errors import ReturnBridgeError

TOPIC = "erp.journal"
STOCK_TOPIC = "erp.stock"  # one message per stock movement: a stock adjustment for the ERP
TOPICS: tuple[str, ...] = (TOPIC, STOCK_TOPIC)
STOCK_ADJUSTMENT = "stock_adjustment"  # the row kind of an ``erp.stock`` message

# The stable columns of both files, in order (documented in docs/erp-export.md).
COLUMNS: tuple[str, ...] = (
    "batch",
    "journal_id",
    "posting",
    "date",
    "kind",
    "reverses",
    "gl_account",
    "debit",
    "credit",
    "currency",
    "return_id",
    "case",
    "line_id",
    "sku",
    "disposition",
    "source_event",
    "memo",
    # Stock adjustments only (empty on journal rows): the ZigZag DC, the signed units and the
    # business time (when the warehouse graded them).
    "warehouse",
    "quantity",
    "occurred_at",
)

RECORDED = "recorded"  # in the database, files not yet written
WRITTEN = "written"  # file pair written; waiting for delivery (or files only)
DELIVERED = "delivered"  # the ERP answered 2xx
REFUSED = "refused"  # the ERP answered 4xx: a person looks at ``answer``


class ErpBatchUnbalanced(ReturnBridgeError):
    """A batch's debits and credits differ (per entry or per currency): nothing is written."""

    code = "erp.unbalanced"


class ErpBatchNotFound(ReturnBridgeError):
    """No ERP batch has the key asked for."""

    code = "erp.batch_not_found"


class ErpBatchNotRefused(ReturnBridgeError):
    """Only a batch the ERP refused can be put back for delivery."""

    code = "erp.batch_not_refused"


class ErpRequestRefused(ReturnBridgeError):
    """The ERP refused the batch (HTTP 4xx other than 429): sending it unchanged cannot help."""

    code = "erp.request_refused"

    def __init__(self, message: str, status: int, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ErpUnavailable(ReturnBridgeError):
    """The ERP did not accept the batch after every retry (5xx, 429, lost connections)."""

    code = "erp.unavailable"


@dataclass(frozen=True)
class JournalMessage:
    """One ``erp.journal`` outbox message and the posting date of its journal entry."""

    outbox_id: int
    payload: dict[str, Any]
    posted_at: datetime


@dataclass(frozen=True)
class StockMessage:
    """One ``erp.stock`` outbox message (a stock movement) and the event that caused it
    (``<source>/<event id>``, None when unknown)."""

    outbox_id: int
    payload: dict[str, Any]
    source_event: str | None = None


ErpMessage = JournalMessage | StockMessage


@dataclass(frozen=True)
class ErpExport:
    """A recorded batch, as stored."""

    id: int
    batch_key: str
    status: str
    entries: int
    lines: int
    attempts: int = 0
    answer: str | None = None


@dataclass(frozen=True)
class ErpBatch:
    """A batch's content: one row per journal line (posting) and per stock adjustment, in
    outbox order, keyed by ``COLUMNS``."""

    key: str
    rows: tuple[dict[str, Any], ...]
    totals: tuple[dict[str, Any], ...]  # per currency: {"currency", "debit", "credit"}
    entries: int  # journal entries
    adjustments: int = 0  # stock adjustments (rows of kind ``stock_adjustment``)

    @property
    def lines(self) -> int:
        """The journal lines (rows that are not stock adjustments)."""
        return len(self.rows) - self.adjustments

    def body(self) -> dict[str, Any]:
        """What is POSTed to the ERP (JSON). The stock adjustments travel beside the journal
        ``lines``, not among them: a journal intake takes only lines with a GL account and a
        currency, and they have neither."""
        return {
            "batch": self.key,
            "columns": list(COLUMNS),
            "entries": self.entries,
            "lines": [dict(row) for row in self.rows if row["kind"] != STOCK_ADJUSTMENT],
            "totals": [dict(total) for total in self.totals],
            "stock_adjustments": [
                dict(row) for row in self.rows if row["kind"] == STOCK_ADJUSTMENT
            ],
        }


class ErpExportStore(Protocol):
    """The store as the ERP export needs it (one transaction per unit of work)."""

    def pending_messages(self) -> list[ErpMessage]:
        """Pending ``erp.journal`` and ``erp.stock`` messages in outbox id order (locked where
        the engine can)."""
        ...

    def record_export(
        self,
        batch_key: str,
        outbox_ids: Sequence[int],
        entries: int,
        lines: int,
        now: datetime,
    ) -> int:
        """Store the batch and settle its messages (status ``exported``); returns its id.
        ``lines`` counts journal lines only: the stock adjustments are the batch's messages
        that are not journal entries."""
        ...

    def export_messages(self, export_id: int) -> list[ErpMessage]: ...
    def exports(self, statuses: Sequence[str]) -> list[ErpExport]: ...
    def export_by_key(self, batch_key: str) -> ErpExport | None: ...
    def mark_export(
        self, export_id: int, status: str, now: datetime, answer: str | None = None
    ) -> None: ...
    def count_attempt(self, export_id: int, answer: str | None) -> None: ...


ErpExportStores = Callable[[], AbstractContextManager[ErpExportStore]]


class BatchWriter(Protocol):
    """Writes a batch's file pair; writing the same batch again gives identical files."""

    def write(self, batch: ErpBatch) -> list[str]:
        """Write the files; returns their names."""
        ...


class ErpEndpoint(Protocol):
    """The ERP's journal intake over HTTP."""

    def deliver(self, batch_key: str, body: dict[str, Any]) -> int:
        """POST the batch with ``Idempotency-Key: batch_key``; returns the 2xx status.

        Raises ``ErpRequestRefused`` on a 4xx, ``ErpUnavailable`` once retries are spent."""
        ...


@dataclass
class ErpExportReport:
    """What one export run did."""

    recorded: list[str] = field(default_factory=list)  # batch keys recorded by this run
    written: list[str] = field(default_factory=list)  # batch keys whose files were written
    files: list[str] = field(default_factory=list)  # names of the files written
    entries: int = 0  # journal entries in the batches recorded by this run
    lines: int = 0  # journal lines (file rows) in the batches recorded by this run
    adjustments: int = 0  # stock adjustments (file rows) in the batches recorded by this run
    delivered: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    undelivered: int = 0  # written batches left for the next run (the ERP out of reach)


def batch_key(outbox_ids: Sequence[int]) -> str:
    return f"erp-{outbox_ids[0]}-{outbox_ids[-1]}"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def stock_row(key: str, message: StockMessage) -> dict[str, Any]:
    """A stock movement as a ``stock_adjustment`` row: units, no money."""
    p = message.payload
    delta = int(p["delta"])
    at = _utc(datetime.fromisoformat(p["occurred_at"]))
    of = f"return {p['return_id']}" if p.get("return_id") else f"case {p.get('case')}"
    verb = "restock" if delta > 0 else "unstock"
    return {
        "batch": key,
        "journal_id": f"stock/{p['movement_key']}",  # apart from the journals' own ids
        "posting": 1,
        "date": at.date().isoformat(),
        "kind": STOCK_ADJUSTMENT,
        "reverses": None,
        "gl_account": None,
        "debit": 0,
        "credit": 0,
        "currency": None,
        "return_id": p.get("return_id"),
        "case": p.get("case"),
        "line_id": p.get("line_id"),
        "sku": p["sku"],
        "disposition": None,
        "source_event": message.source_event,
        "memo": f"{verb} {abs(delta)} x {p['sku']} at {p['warehouse']}, {of} line {p['line_id']}",
        "warehouse": p["warehouse"],
        "quantity": delta,
        "occurred_at": at.isoformat(),
    }


def build_batch(key: str, messages: Sequence[ErpMessage]) -> ErpBatch:
    """The rows of a batch, checked to balance per entry and per currency (the stock
    adjustments carry no money)."""
    rows: list[dict[str, Any]] = []
    debits: dict[str, int] = defaultdict(int)
    credits: dict[str, int] = defaultdict(int)
    entries = adjustments = 0
    for message in sorted(messages, key=lambda m: m.outbox_id):
        if isinstance(message, StockMessage):
            rows.append(stock_row(key, message))
            adjustments += 1
            continue
        entries += 1
        p = message.payload
        postings = p["postings"]
        entry_debit = sum(int(x["debit"]) for x in postings)
        entry_credit = sum(int(x["credit"]) for x in postings)
        if entry_debit != entry_credit:
            raise ErpBatchUnbalanced(
                f"batch {key}: journal {p['entry_key']} (outbox {message.outbox_id}) debits "
                f"{entry_debit} and credits {entry_credit} {p['currency']}"
            )
        for n, posting in enumerate(postings, start=1):
            debit, credit = int(posting["debit"]), int(posting["credit"])
            debits[p["currency"]] += debit
            credits[p["currency"]] += credit
            rows.append(
                {
                    "batch": key,
                    "journal_id": p["entry_key"],
                    "posting": n,
                    "date": message.posted_at.date().isoformat(),
                    "kind": p["kind"],
                    "reverses": p.get("reverses"),
                    "gl_account": posting["account"],
                    "debit": debit,
                    "credit": credit,
                    "currency": p["currency"],
                    "return_id": p.get("return_id"),
                    "case": p.get("case"),
                    "line_id": p.get("line_id"),
                    "sku": p.get("sku"),
                    "disposition": p.get("disposition"),
                    "source_event": p.get("source_event"),
                    "memo": p.get("memo", ""),
                    "warehouse": None,
                    "quantity": None,
                    "occurred_at": None,
                }
            )
    totals = []
    for currency in sorted(debits):
        if debits[currency] != credits[currency]:
            raise ErpBatchUnbalanced(
                f"batch {key}: {currency} debits {debits[currency]} and credits "
                f"{credits[currency]}; nothing written"
            )
        totals.append(
            {"currency": currency, "debit": debits[currency], "credit": credits[currency]}
        )
    return ErpBatch(key, tuple(rows), tuple(totals), entries, adjustments)


class ErpExporter:
    """Record, write and deliver ERP batches (see the module docstring)."""

    def __init__(
        self,
        stores: ErpExportStores,
        writer: BatchWriter,
        clock: Callable[[], datetime],
        endpoint: ErpEndpoint | None = None,
    ) -> None:
        self.stores = stores
        self.writer = writer
        self.clock = clock
        self.endpoint = endpoint

    def run(self, report: ErpExportReport | None = None) -> ErpExportReport:
        report = report or ErpExportReport()
        self.record(report)
        self.write(report)
        if self.endpoint is not None:
            self.deliver(report)
        return report

    def record(self, report: ErpExportReport) -> str | None:
        """Make the pending journal and stock messages one batch (one transaction); its key,
        or None."""
        with self.stores() as store:
            messages = store.pending_messages()
            if not messages:
                return None
            ids = [m.outbox_id for m in messages]
            key = batch_key(ids)
            batch = build_batch(key, messages)  # unbalanced: raises, nothing is recorded
            store.record_export(key, ids, batch.entries, batch.lines, self.clock())
        report.recorded.append(key)
        report.entries += batch.entries
        report.lines += batch.lines
        report.adjustments += batch.adjustments
        return key

    def write(self, report: ErpExportReport) -> None:
        """Write the files of every batch recorded and not yet written, oldest first."""
        with self.stores() as store:
            waiting = store.exports([RECORDED])
        for export in waiting:
            self._write(export, report)

    def rewrite(self, key: str, report: ErpExportReport | None = None) -> ErpExportReport:
        """Write a recorded batch's files again (identical to the first time)."""
        report = report or ErpExportReport()
        with self.stores() as store:
            export = store.export_by_key(key)
        if export is None:
            raise ErpBatchNotFound(f"no ERP batch {key!r}")
        self._write(export, report)
        return report

    def _write(self, export: ErpExport, report: ErpExportReport) -> None:
        with self.stores() as store:
            batch = build_batch(export.batch_key, store.export_messages(export.id))
        report.files += self.writer.write(batch)
        report.written.append(export.batch_key)
        if export.status == RECORDED:
            with self.stores() as store:
                store.mark_export(export.id, WRITTEN, self.clock())

    def deliver(self, report: ErpExportReport) -> None:
        """POST every written batch not yet delivered, oldest first; stop when out of reach."""
        assert self.endpoint is not None
        with self.stores() as store:
            waiting = store.exports([WRITTEN])
        for index, export in enumerate(waiting):
            with self.stores() as store:
                batch = build_batch(export.batch_key, store.export_messages(export.id))
            try:
                status = self.endpoint.deliver(export.batch_key, batch.body())
            except ErpRequestRefused as exc:
                with self.stores() as store:
                    store.mark_export(
                        export.id, REFUSED, self.clock(), f"HTTP {exc.status}: {exc.body}"
                    )
                report.refused.append(export.batch_key)
                continue
            except ErpUnavailable as exc:
                with self.stores() as store:
                    store.count_attempt(export.id, exc.message)
                report.undelivered = len(waiting) - index
                return
            with self.stores() as store:
                store.mark_export(export.id, DELIVERED, self.clock(), f"HTTP {status}")
            report.delivered.append(export.batch_key)

    def requeue(self, key: str) -> None:
        """A person fixed what made the ERP refuse a batch: deliver it again (same key)."""
        with self.stores() as store:
            export = store.export_by_key(key)
            if export is None:
                raise ErpBatchNotFound(f"no ERP batch {key!r}")
            if export.status != REFUSED:
                raise ErpBatchNotRefused(f"ERP batch {key} is {export.status}, not refused")
            store.mark_export(export.id, WRITTEN, self.clock(), export.answer)


__all__ = [
    "COLUMNS",
    "STOCK_ADJUSTMENT",
    "STOCK_TOPIC",
    "TOPIC",
    "TOPICS",
    "BatchWriter",
    "ErpBatch",
    "ErpBatchNotFound",
    "ErpBatchNotRefused",
    "ErpBatchUnbalanced",
    "ErpEndpoint",
    "ErpExport",
    "ErpExportReport",
    "ErpExportStore",
    "ErpExporter",
    "ErpMessage",
    "ErpRequestRefused",
    "ErpUnavailable",
    "JournalMessage",
    "StockMessage",
    "batch_key",
    "build_batch",
    "stock_row",
]
