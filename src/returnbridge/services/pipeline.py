"""Ingest into the durable inbox, and process the inbox into cases, stock, journals, exceptions.

Processing one event is one step inside a transaction: the event joins its case, the case is
re-derived from the set of its events, and only the difference between what the case should
have caused and what was already posted is written (stock movements, journal entries and
reversals, exception records, outbox messages), together with the inbox row's new status. A
crash anywhere leaves the event pending, and its replay changes nothing twice.
"""

from __future__ import annotations

import json
import os
import socket
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from returnbridge.domain.catalog import Catalog
from returnbridge.domain.codec import event_from_dict, event_to_dict
from returnbridge.domain.errors import ExceptionCode, InvalidEvent, StoreUnavailable
from returnbridge.domain.events import EventType, ReturnEvent
from returnbridge.domain.mappings import Mappings, mappings_from_dict
from returnbridge.domain.returns import fold_case
from returnbridge.domain.routing import CHARGE_PREFIX, ROUTING_CODES, LineOutcome, evaluate_case
from returnbridge.services.ports import (
    CaseEventRow,
    Clock,
    Decoder,
    InboxRecord,
    InboxRow,
    OpenException,
    PostedLine,
    Progress,
    Store,
    StoreFactory,
    noop_progress,
)

UNASSIGNED_WAREHOUSE = "UNASSIGNED"
FOLLOWERS_PER_EVENT = 4  # later events of the same returns a batch may take per claimed event
STATISTICS_EVERY = 20_000  # events applied between checks of the planner's statistics


@dataclass(frozen=True)
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    invalid: int = 0
    problems: tuple[str, ...] = ()  # why each newly stored unreadable record was refused


def ingest_each(store: Store, records: Sequence[InboxRecord], now: datetime) -> list[int | None]:
    """Make inbound events durable, once each, answering per record: the new inbox id, or None
    for a duplicate (of a stored event, or of an earlier record of ``records``). An unreadable
    record newly stored is kept with its INVALID_EVENT exception, in the same transaction."""
    ids = store.add_to_inbox(records, now)
    for record, inbox_id in zip(records, ids, strict=True):
        if inbox_id is not None and record.invalid_reason:
            store.add_exception(
                ExceptionCode.INVALID_EVENT,
                f"{record.source} event {record.event_id!r}: {record.invalid_reason}",
                record.payload,
                now,
                inbox_id=inbox_id,
            )
    return ids


def ingest(store: Store, records: Sequence[InboxRecord], now: datetime) -> IngestResult:
    """Make inbound events durable, once each. Unreadable ones are kept with an exception."""
    ids = ingest_each(store, records, now)
    problems = [
        record.invalid_reason
        for record, inbox_id in zip(records, ids, strict=True)
        if inbox_id is not None and record.invalid_reason
    ]
    stored = sum(1 for i in ids if i is not None)
    return IngestResult(
        accepted=stored - len(problems),
        duplicates=len(ids) - stored,
        invalid=len(problems),
        problems=tuple(problems),
    )


@dataclass
class StreamResult:
    """Totals of a streamed import, with the first problems in words (naming the rows)."""

    accepted: int = 0
    duplicates: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)


def ingest_stream(
    stores: StoreFactory,
    records: Iterable[InboxRecord],
    clock: Clock,
    batch_size: int = 1_000,
    progress: Progress = noop_progress,
    keep_problems: int = 50,
) -> StreamResult:
    """Ingest an unbounded stream in batches: memory stays bounded, each batch one transaction."""
    result = StreamResult()
    batch: list[InboxRecord] = []

    def flush() -> None:
        with stores() as store:
            got = ingest(store, batch, clock())
        result.accepted += got.accepted
        result.duplicates += got.duplicates
        result.invalid += got.invalid
        result.problems.extend(got.problems[: max(0, keep_problems - len(result.problems))])
        progress(len(batch))
        batch.clear()

    for record in records:
        batch.append(record)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    if result.accepted:
        with stores() as store:
            store.analyze_inbox()  # a bulk load: the claim's plans need the inbox's new size
    return result


@dataclass
class MasterData:
    """The catalog and mappings in force, reloaded when a new version is loaded."""

    catalog: Catalog = field(default_factory=Catalog)
    mappings: Mappings = field(default_factory=Mappings)
    versions: dict[str, int] = field(default_factory=dict)

    def refresh(self, store: Store) -> None:
        versions = store.config_versions()
        if versions == self.versions:
            return
        self.catalog = store.load_catalog()
        config = store.config("mappings")
        self.mappings = mappings_from_dict(json.loads(config[1])) if config else Mappings()
        self.versions = versions


@dataclass
class ProcessStats:
    processed: int = 0
    invalid: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.processed + self.invalid + self.failed


def default_worker_id() -> str:
    """Who applies the events: host and process id, kept on each inbox row it applies."""
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


Decoded = ReturnEvent | InvalidEvent


class Processor:
    """Drains the inbox in batches, one transaction per batch.

    Several processors (worker processes, on one or many machines) may share one PostgreSQL:
    each batch's claim locks its events (``FOR UPDATE SKIP LOCKED``) and leaves out an event
    while an earlier one of its case is held by another worker, and the cases and orders a
    batch touches are locked for the transaction, so two workers never apply events of the
    same return at once and each return's events are applied in the order they arrived. A
    worker that dies holds nothing: its transaction ends with its connection.
    """

    def __init__(
        self,
        stores: StoreFactory,
        decode: Decoder,
        clock: Clock,
        batch_size: int = 500,
        worker_id: str | None = None,
    ) -> None:
        self.stores = stores
        self.decode = decode
        self.clock = clock
        self.batch_size = batch_size
        self.worker_id = worker_id or default_worker_id()
        self.masterdata = MasterData()
        self._since_statistics = 0

    def drain(self, progress: Progress = noop_progress, limit: int | None = None) -> ProcessStats:
        """Process until the inbox has nothing pending (or ``limit`` events are done)."""
        stats = ProcessStats()
        while limit is None or stats.total < limit:
            done = self.run_batch(stats, None if limit is None else limit - stats.total)
            if not done:
                break
            progress(done)
        return stats

    def _claim_sizes(self, cap: int | None) -> tuple[int, int]:
        """The oldest events a batch claims, and how many later events of their returns may
        come along (a backlog's return is then loaded once for all of them); never more than
        ``cap`` in all. The oldest events of a backlog name about as many returns, each with a
        few later events: up to ``FOLLOWERS_PER_EVENT`` per claimed event keeps most returns
        whole in one batch (a return split over two batches is loaded twice)."""
        most = self.batch_size * (1 + FOLLOWERS_PER_EVENT)
        if cap is not None:
            most = max(1, min(most, cap))
        first = min(self.batch_size, most)
        return first, most - first

    def run_batch(self, stats: ProcessStats, cap: int | None = None) -> int:
        """Apply one batch (at most ``cap`` events) in one transaction; how many it took."""
        first, followers = self._claim_sizes(cap)
        with self.stores() as store:
            # Outside the per-row isolation below: a bad master-data document stops the
            # worker with its own error instead of failing every event it would touch.
            self.masterdata.refresh(store)
        try:
            with self.stores() as store:
                rows = store.claim_inbox(first, followers=followers)
                decoded = {row.id: self._decode(row) for row in rows}
                store.lock_keys(_lock_keys(decoded.values()))
                store.batch_cases(_case_keys(decoded.values()), _orders(decoded.values()))
                batch = ProcessStats()
                for row in rows:
                    self._handle(store, row, decoded[row.id], batch)
        except StoreUnavailable:
            raise
        except Exception:
            return self._one_by_one(stats, first, followers)
        stats.processed += batch.processed
        stats.invalid += batch.invalid
        self._since_statistics += len(rows)
        if self._since_statistics >= STATISTICS_EVERY:
            # A long drain grows the tables its own lookups are planned on: their statistics
            # are refreshed where autovacuum has not (store.refresh_statistics).
            self._since_statistics = 0
            with self.stores() as store:
                store.refresh_statistics()
        return len(rows)

    def _one_by_one(self, stats: ProcessStats, first: int, followers: int) -> int:
        """A batch failed: apply its events one per transaction, so one bad event is set aside
        (``failed``, with an exception) and the others go through."""
        with self.stores() as store:
            ids = [row.id for row in store.claim_inbox(first, followers=followers)]
        for inbox_id in ids:
            try:
                with self.stores() as store:
                    row = store.claim_inbox_row(inbox_id)
                    if row is None:  # applied meanwhile, or held by another worker
                        continue
                    event = self._decode(row)
                    store.lock_keys(_lock_keys([event]))
                    store.batch_cases(_case_keys([event]), _orders([event]))
                    self._handle(store, row, event, stats)
            except StoreUnavailable:
                raise
            except Exception as exc:
                with self.stores() as store:
                    row = store.claim_inbox_row(inbox_id)
                    if row is None:
                        continue
                    stats.failed += 1
                    now = self.clock()
                    store.mark_inbox(row.id, "failed", now, repr(exc), self.worker_id)
                    store.add_exception(
                        ExceptionCode.PROCESSING_FAILED,
                        f"{row.source} event {row.event_id!r} could not be processed: {exc!r}",
                        row.payload,
                        now,
                        inbox_id=row.id,
                    )
        return len(ids)

    def _decode(self, row: InboxRow) -> Decoded:
        try:
            return self.decode(row.source, row.event_id, row.payload)
        except InvalidEvent as exc:
            return exc

    def _handle(self, store: Store, row: InboxRow, event: Decoded, stats: ProcessStats) -> None:
        now = self.clock()
        if isinstance(event, InvalidEvent):
            store.mark_inbox(row.id, "invalid", now, event.message, self.worker_id)
            store.add_exception(
                ExceptionCode.INVALID_EVENT,
                f"{row.source} event {row.event_id!r}: {event.message}",
                row.payload,
                now,
                inbox_id=row.id,
            )
            stats.invalid += 1
            return
        case = store.find_case(event.case_key, event.return_id, event.order_ref)
        if case is None:
            case = store.create_case(event.case_key, event.return_id, event.order_ref, now)
        elif event.return_id and case.return_id is None:
            store.adopt_case(case.id, event.case_key, event.return_id)
        if event.return_id and event.order_ref:
            # The return's order reference may arrive after its first events: a provisional
            # case Amazon's refund opened for that order joins it then, whatever the order.
            orphan = store.provisional_case_of_order(event.order_ref)
            if orphan is not None and orphan.id != case.id:
                store.merge_case(orphan.id, case.id)
        store.add_case_event(case.id, row.id, event_to_dict(event), row.payload, event)
        apply_case(store, case.id, self.masterdata, event, row.id, now)
        store.mark_processed(row.id, now, self.worker_id)
        stats.processed += 1


def _case_keys(events: Iterable[Decoded]) -> list[str]:
    return [event.case_key for event in events if not isinstance(event, InvalidEvent)]


def _orders(events: Iterable[Decoded]) -> list[str]:
    return [
        event.order_ref
        for event in events
        if not isinstance(event, InvalidEvent) and event.order_ref
    ]


def _lock_keys(events: Iterable[Decoded]) -> list[str]:
    """What a batch must hold alone besides its claimed events (whose cases the claim already
    gives it alone): the orders through which an Amazon refund's provisional case (case key
    ``order:<id>``) and a ZigZag return (case key ``zz:<returnId>``) meet."""
    return [f"order:{order}" for order in _orders(events)]


def apply_case(
    store: Store,
    case_id: int,
    masterdata: MasterData,
    trigger: ReturnEvent,
    inbox_id: int | None,
    now: datetime,
) -> None:
    """Re-derive a case from all its events and write the difference to the books."""
    rows = store.case_events(case_id)
    events = [r.event or event_from_dict(r.body) for r in rows]
    facts = fold_case(events[0].case_key if events else "", events)
    outcome = evaluate_case(facts, masterdata.catalog, masterdata.mappings)
    open_by_line: dict[str | None, list[OpenException]] = defaultdict(list)
    for exc in store.open_exceptions(case_id):
        open_by_line[exc.line_id].append(exc)
    warehouse = facts.warehouse or UNASSIGNED_WAREHOUSE
    refs = {"return_id": facts.return_id, "case": case_id}
    credit_refs = {
        **refs,
        # Amazon's returnsReferenceNumber: the return as Amazon knows it (RMA), else ZigZag's id.
        "returns_reference": facts.rma_id or facts.return_id or facts.case_key,
        "rma_id": facts.rma_id,
    }
    posted_lines = store.posted_lines(case_id)
    for line in outcome.lines:
        posted = posted_lines.get(line.line_id)
        if posted is not None and posted.row.get("facts_digest") == line.digest:
            continue  # nothing new about this line: it stays as booked
        line_ref = store.save_line(case_id, line, warehouse, posted, now)
        posted = posted or PostedLine(line_ref, {})
        state = facts.lines.get(line.line_id)
        # The business time of a stock change: when the warehouse graded the units (a stock
        # snapshot's as_of is compared with it), else when it took them in, else now.
        at = (state.graded_at or state.received_at or now) if state is not None else now
        at = at.astimezone(UTC)
        _sync_stock(store, case_id, posted, line, warehouse, refs, inbox_id, now, at)
        _sync_journal(store, case_id, posted, line, refs, trigger, inbox_id, now)
        _sync_credit(store, case_id, posted, line, credit_refs, inbox_id, now)
        _sync_exceptions(
            store, case_id, line, open_by_line.pop(line.line_id, []), rows, trigger, now
        )
    store.update_case(
        case_id,
        {
            "status": outcome.status.value,
            "provisional": facts.provisional,
            "retailer_code": facts.retailer_code,
            "order_number": facts.order_number,
            "warehouse": facts.warehouse,
            "rma_id": facts.rma_id,
            "order_ref": facts.order_ref,
        },
        now,
    )


def _sync_stock(
    store: Store,
    case_id: int,
    posted: PostedLine,
    line: LineOutcome,
    warehouse: str,
    refs: dict[str, Any],
    inbox_id: int | None,
    now: datetime,
    occurred_at: datetime,
) -> None:
    """Move the line's sellable position to where it should be, per (warehouse, SKU): a
    line whose SKU or warehouse changed takes its units off the old position. Each movement is
    also a stock adjustment for the ERP (``erp.stock``): the WMS/ERP learns of every restock,
    whoever tells Amazon the warehouse's stock."""
    wanted = {(warehouse, line.sku): line.stock} if line.stock and line.sku else {}
    count = posted.stock_movements
    for position in sorted(set(wanted) | set(posted.stock)):
        delta = wanted.get(position, 0) - posted.stock.get(position, 0)
        if not delta:
            continue
        count += 1
        key = f"{case_id}/{line.line_id}/{count}"
        at, sku = position
        store.add_movement(key, posted.id, at, sku, delta, inbox_id, now, occurred_at)
        message = {
            "movement_key": key,
            "warehouse": at,
            "sku": sku,
            "delta": delta,
            "line_id": line.line_id,
            "occurred_at": occurred_at.isoformat(),
            **refs,
        }
        store.add_to_outbox("amazon.inventory", f"stock/{key}", message, now)
        store.add_to_outbox("erp.stock", f"erp-stock/{key}", message, now)


def _sync_credit(
    store: Store,
    case_id: int,
    posted: PostedLine,
    line: LineOutcome,
    refs: dict[str, Any],
    inbox_id: int | None,
    now: datetime,
) -> None:
    """Move what the line has credited Amazon to what it owes now. A credit already sent is
    never edited: a correction is a further movement for the difference (negative when the
    line now owes less; the clearing cycle nets it before anything goes to Amazon)."""
    wanted = {line.credit.key: line.credit.quantity} if line.credit else {}
    count = posted.credit_movements
    for position in sorted(set(wanted) | set(posted.credit)):
        delta = wanted.get(position, 0) - posted.credit.get(position, 0)
        if not delta:
            continue
        count += 1
        key = f"{case_id}/{line.line_id}/{count}"
        sku, unit_amount, currency = position
        store.add_credit_movement(key, posted.id, sku, delta, unit_amount, currency, inbox_id, now)
        credit = line.credit
        returned_at = credit.returned_at if credit and credit.returned_at else now
        store.add_to_outbox(
            "amazon.credit_note",
            f"credit/{key}",
            {
                "movement_key": key,
                "sku": sku,
                "asin": credit.asin if credit else None,
                "quantity": delta,
                "unit_amount": unit_amount,
                "currency": currency,
                "returned_at": returned_at.isoformat(),
                "line_id": line.line_id,
                **refs,
            },
            now,
        )


def _sync_journal(
    store: Store,
    case_id: int,
    posted: PostedLine,
    line: LineOutcome,
    refs: dict[str, Any],
    trigger: ReturnEvent,
    inbox_id: int | None,
    now: datetime,
) -> None:
    count, active, line_ref = posted.journal_entries, posted.journal, posted.id
    wanted = line.journal
    if (active.draft.signature if active else None) == (wanted.signature if wanted else None):
        return
    source_event = f"{trigger.source}/{trigger.event_id}"
    base = {
        "line_id": line.line_id,
        "sku": line.sku,
        "disposition": line.disposition,
        "source_event": source_event,
        **refs,
    }
    if active is not None:
        count += 1
        key = f"{case_id}/{line.line_id}/{count}"
        reversal = active.draft.reversal(f"reversal of {active.entry_key}: {active.draft.memo}")
        store.add_journal(key, line_ref, reversal, active.id, inbox_id, now)
        store.add_to_outbox(
            "erp.journal",
            f"journal/{key}",
            _journal_message(key, reversal, active.entry_key, base),
            now,
        )
    if wanted is not None:
        count += 1
        key = f"{case_id}/{line.line_id}/{count}"
        store.add_journal(key, line_ref, wanted, None, inbox_id, now)
        store.add_to_outbox(
            "erp.journal", f"journal/{key}", _journal_message(key, wanted, None, base), now
        )


def _journal_message(
    key: str, draft: Any, reverses: str | None, base: dict[str, Any]
) -> dict[str, Any]:
    return {
        "entry_key": key,
        "kind": draft.kind.value,
        "currency": draft.currency,
        "memo": draft.memo,
        "reverses": reverses,
        "postings": [
            {"account": p.account, "debit": p.debit, "credit": p.credit} for p in draft.postings
        ],
        **base,
    }


def _mentions(body: dict[str, Any], line_id: str) -> bool:
    if line_id.startswith(CHARGE_PREFIX):
        charge = body.get("charge") or {}
        return bool(charge.get("charge_id") == line_id[len(CHARGE_PREFIX) :])
    override = body.get("override") or {}
    return override.get("line_id") == line_id or any(
        f.get("line_id") == line_id for f in body.get("lines", ())
    )


def _sync_exceptions(
    store: Store,
    case_id: int,
    line: LineOutcome,
    open_now: list[OpenException],
    rows: list[CaseEventRow],
    trigger: ReturnEvent,
    now: datetime,
) -> None:
    wanted: dict[str, str] = {}
    for finding in line.findings:
        code = finding.code.value
        wanted[code] = f"{wanted[code]}; {finding.message}" if code in wanted else finding.message
    have = {exc.code: exc for exc in open_now if exc.code in ROUTING_CODES}
    for code, message in wanted.items():
        if code not in have:
            raw = json.dumps([r.raw for r in rows if _mentions(r.body, line.line_id)])
            store.add_exception(code, message, raw, now, case_id=case_id, line_id=line.line_id)
    override = trigger.override if trigger.type is EventType.MANUAL_OVERRIDE else None
    for code, exc in have.items():
        if code in wanted:
            continue
        if override is not None and override.line_id == line.line_id:
            status = "ignored" if code in override.ignore else "resolved"
            store.close_exception(
                exc.id, status, now, override.actor, override.action, override.note
            )
        else:
            store.close_exception(
                exc.id,
                "resolved",
                now,
                "system",
                "cleared",
                f"cleared by {trigger.source} event {trigger.event_id}",
            )
