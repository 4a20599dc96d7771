"""Clearing cycles: at each cut-off, tell Amazon what changed, in the fewest calls, and confirm.

A cycle has three steps, each committed (for each submission) before the next starts, so a
crash anywhere resumes where it stopped and sends nothing twice in effect:

1. **prepare**: the stock positions Amazon must be told are worked out per (Amazon warehouse,
   SKU) from each warehouse's stock authority (``services/stock_sync.py``: the WMS/ERP snapshot
   plus the restocks since, or nothing; missing, stale or suspicious figures are held), chunked
   into as few ``submitInventoryUpdate`` requests as the per-call item limit allows; the pending
   credits are gathered into one returns credit note per return (and currency), numbered once
   and for good, and chunked into as few ``submitInvoices`` requests as the per-call invoice
   limit allows. All are stored as *prepared* submissions, with the outbox messages they settle.
2. **send**: each prepared submission is sent and its transaction id recorded. A crash between
   sending and recording resends the same absolute quantities (harmless) or the same credit
   notes under the same numbers: Amazon refuses a credit-note number it already holds
   (``DuplicateInvoice``), so the resend cannot credit twice, and that refusal is our proof
   the first send landed.
3. **confirm**: each sent transaction is polled to its final status. Success settles its
   messages and records what Amazon holds; Failure opens ``AMAZON_REJECTED`` on the exact return
   lines behind each rejected item (Amazon's code and message kept) and puts the other items back
   for the next cycle; a transaction Processing past the stuck limit opens ``AMAZON_STUCK``.
   A cycle that pauses between polls (``cycle close``, the worker) runs a sender and a poller
   per operation: Amazon meters each operation apart, so a large cut-off's polls need not wait
   for its last submission, nor one operation for another's. A submission is polled only once
   its send is recorded.

What a whole run cost (requests, retries, 429s, rejected items) is added to its cycle's row, so
``/metrics`` reports the same figures from every process.
"""

from __future__ import annotations

import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import zip_longest
from typing import Any, Protocol

from returnbridge.domain.errors import AmazonRequestRejected, AmazonUnavailable, ExceptionCode
from returnbridge.services.ports import (
    AmazonVendor,
    Clock,
    CreditNote,
    CreditNoteLine,
    InventoryPosition,
    OpenException,
    TransactionError,
)
from returnbridge.services.stock_sync import (
    PendingStock,
    StockPlan,
    StockStore,
    plan_stock,
    position_subject,
)

INVENTORY = "inventory"
CREDIT_NOTES = "credit_notes"
VOIDED = "voided"  # a credit note that could never be sent: its number is never used again
DUPLICATE_INVOICE = "DuplicateInvoice"  # Amazon already holds this number: our earlier send landed
_ITEM_INDEX = re.compile(r"items\[(\d+)\]")
_INVOICE_INDEX = re.compile(r"invoices\[(\d+)\]")


@dataclass(frozen=True)
class Change:
    """A pending outbox message for Amazon about one line: its sellable stock at a warehouse
    (``amazon.inventory``), or what it owes Amazon in credit (``amazon.credit_note``)."""

    outbox_id: int
    warehouse: str | None
    sku: str
    case_id: int
    line_id: str
    payload: dict[str, Any] = field(default_factory=dict, compare=False)
    document: str | None = None  # the credit-note number, once given
    status: str = "pending"  # or "overstated": credit Amazon holds that the line no longer owes


@dataclass(frozen=True)
class Submission:
    id: int
    operation: str
    warehouse: str | None
    key: str
    body: dict[str, Any]
    status: str
    transaction_id: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class AmazonCalls:
    """What talking to Amazon cost: submission requests (retries included, status polls apart),
    how many of them were retries, and how many answers were "too many requests" (429)."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0

    def __sub__(self, before: AmazonCalls) -> AmazonCalls:
        return AmazonCalls(
            self.requests - before.requests,
            self.retries - before.retries,
            self.throttled - before.throttled,
        )


CallMeter = Callable[[], AmazonCalls]
"""The running totals of a connector's ``AmazonCalls`` (a cycle takes the difference)."""


class CycleStore(StockStore, Protocol):
    """The store as the clearing cycle needs it (one transaction per unit of work)."""

    def create_cycle(self, now: datetime) -> int: ...
    def close_cycle(self, cycle_id: int, now: datetime) -> None: ...
    def count_cycle(
        self, cycle_id: int | None, calls: AmazonCalls | None, items_rejected: int
    ) -> None:
        """Add one run's cost to its cycle's row; ``None``: the latest cycle (a run that
        prepared nothing only sends and confirms what earlier cycles prepared). ``calls`` is
        ``None`` when the connector does not count its requests."""
        ...

    def pending_stock_changes(self) -> list[Change]: ...
    def pending_credit_changes(self) -> list[Change]: ...
    def open_exceptions(self, case_id: int) -> list[OpenException]: ...
    def close_exception(
        self, exception_id: int, status: str, now: datetime, by: str, resolution: str, note: str
    ) -> None: ...
    def asins(self, skus: Sequence[str]) -> dict[str, str | None]: ...
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
        """Store a prepared submission and the messages it settles; ``documents``: the
        credit-note number each message is given, for good (a resend carries the same)."""
        ...

    def submissions(
        self, statuses: Sequence[str], operation: str | None = None
    ) -> list[Submission]: ...
    def mark_submission(
        self,
        submission_id: int,
        status: str,
        now: datetime,
        transaction_id: str | None = None,
        errors: Sequence[TransactionError] = (),
    ) -> None: ...
    def changes_of(self, submission_id: int) -> list[Change]: ...
    def settle_outbox(self, outbox_ids: Sequence[int], status: str, now: datetime) -> None: ...
    def release_outbox(self, outbox_ids: Sequence[int]) -> None: ...
    def take_credit_note_numbers(self, series: str, count: int) -> list[str]: ...
    def save_credit_notes(self, series: str, bodies: Sequence[dict[str, Any]]) -> None: ...
    def credit_note_bodies(
        self, numbers: Iterable[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """Number -> (status, the note as numbered)."""
        ...
    def record_positions(
        self, warehouse: str, quantities: dict[str, int], now: datetime
    ) -> None: ...
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
    ) -> int: ...


CycleStores = Callable[[], AbstractContextManager[CycleStore]]


@dataclass(frozen=True)
class CycleSettings:
    """How cycles talk to Amazon. The per-call limits are ours: the models set none."""

    items_per_call: int = 500
    invoices_per_call: int = 100
    credit_note_prefix: str = "RBCN"
    stuck_after: timedelta = timedelta(hours=24)


@dataclass
class CycleReport:
    cycle_id: int | None = None
    prepared: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    refused: int = 0
    stuck: int = 0
    processing: int = 0
    unsent: int = 0
    rejected_lines: int = 0
    rejected_items: int = 0  # items Amazon refused, per transaction (as Amazon counts them)
    already_held: int = 0  # credit notes a resend found Amazon already holding (credited)
    overstated: int = 0  # lines whose credit nets below what Amazon already holds
    min_calls: int = 0
    calls: AmazonCalls | None = None  # what the whole run cost; None: the connector does not count
    stock: StockPlan | None = None  # what the prepare step sent and held of stock (None: no run)

    def add_sent(self, other: CycleReport) -> None:
        """Take in what one operation's sender did."""
        for name in ("sent", "unsent", "refused", "rejected_lines", "rejected_items"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add_confirmed(self, other: CycleReport) -> None:
        """Take in what a confirm run beside the sending found (not its ``processing``: the
        rounds after the sending count that again)."""
        for name in ("succeeded", "failed", "stuck", "rejected_lines", "rejected_items",
                     "already_held"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))


class ClearingCycle:
    """Prepare, send and confirm the inventory updates of one cut-off."""

    def __init__(
        self,
        stores: CycleStores,
        vendor: AmazonVendor,
        clock: Clock,
        settings: CycleSettings | None = None,
        meter: CallMeter | None = None,
    ) -> None:
        self.stores = stores
        self.vendor = vendor
        self.clock = clock
        self.settings = settings or CycleSettings()
        self.meter = meter  # the vendor's running request counts, if it keeps them

    def prepare(self, report: CycleReport) -> None:
        """Coalesce pending changes into prepared submissions (one transaction)."""
        with self.stores() as store:
            self._prepare_in(store, report)

    def rehearse(self, rehearsal: CycleStores) -> list[Submission]:
        """A dry run: what the next run would send (earlier submissions still prepared, then
        what a prepare would add), worked out in ``rehearsal``'s transaction, which is rolled
        back: nothing is sent, numbered or stored, and Amazon is not asked."""
        with rehearsal() as store:
            self._prepare_in(store, CycleReport())
            return store.submissions(["prepared"])

    def _prepare_in(self, store: CycleStore, report: CycleReport) -> None:
        changes = store.pending_stock_changes()
        credits = store.pending_credit_changes()
        now = self.clock()
        plan = plan_stock(
            store, [PendingStock(c.outbox_id, c.warehouse or "", c.sku) for c in changes], now
        )
        report.stock = plan
        if not plan.sends and not credits:
            return
        cycle_id = store.create_cycle(now)
        report.cycle_id = cycle_id
        self._prepare_inventory(store, cycle_id, plan, report, now)
        self._prepare_credit_notes(store, cycle_id, credits, report, now)

    def _prepare_inventory(
        self,
        store: CycleStore,
        cycle_id: int,
        plan: StockPlan,
        report: CycleReport,
        now: datetime,
    ) -> None:
        """Chunk the plan's positions into as few requests per warehouse as the item limit
        allows; each stores the messages it settles."""
        skus = sorted({sku for sends in plan.sends.values() for sku, _, _ in sends})
        asins = store.asins(skus) if skus else {}
        for warehouse, sends in sorted(plan.sends.items()):
            for n, chunk in enumerate(_chunks(sends, self.settings.items_per_call), start=1):
                positions = [
                    {"sku": sku, "asin": asins.get(sku), "quantity": quantity}
                    for sku, quantity, _ in chunk
                ]
                outbox_ids = [i for _, _, ids in chunk for i in ids]
                key = f"cycle-{cycle_id}/{INVENTORY}/{warehouse}/{n}"
                body = {"positions": positions}
                store.add_submission(
                    cycle_id, INVENTORY, warehouse, key, body, len(positions), outbox_ids, now
                )
                report.prepared += 1
                report.min_calls += 1

    def _prepare_credit_notes(
        self,
        store: CycleStore,
        cycle_id: int,
        credits: Sequence[Change],
        report: CycleReport,
        now: datetime,
    ) -> None:
        """One credit note per return and currency; a note once numbered keeps its number, its
        date and its items (stored when it is numbered), so whatever is sent again is the same
        document. Numbers come from the series in this transaction, in the order of the notes'
        first changes: gapless. A line whose note was voided (it could never be sent) goes
        in a new note under a new number; a voided number is never used again.

        A credit note only credits (Amazon refuses a quantity below one), so the changes of a
        line are netted first: what nets to zero is settled unsent, and what nets below zero,
        credit Amazon already holds and the line no longer owes, opens ``CREDIT_OVERSTATED``
        and stays in the netting, so a later change that makes the line owe it again cancels
        it out (closing the exception) instead of crediting Amazon twice.
        """
        if not credits:
            return
        notes: dict[str, list[Change]] = defaultdict(list)
        fresh: dict[tuple[int, str], list[Change]] = defaultdict(list)
        kept = store.credit_note_bodies({c.document for c in credits if c.document})
        for change in credits:
            if change.document and kept.get(change.document, ("",))[0] == VOIDED:
                change = replace(change, document=None)
            if change.document:
                notes[change.document].append(change)
            else:
                fresh[(change.case_id, change.payload["currency"])].append(change)
        owed_notes: list[list[Change]] = []
        for group in fresh.values():
            by_key: dict[tuple[str, str, int], list[Change]] = defaultdict(list)
            for change in group:
                by_key[_credit_key(change)].append(change)
            owed: list[Change] = []
            for _, changes in sorted(by_key.items()):
                net = _net(changes)
                if net < 0:
                    # Still more credit at Amazon than the line owes: flag what is new.
                    new = [c.outbox_id for c in changes if c.status == "pending"]
                    store.settle_outbox(new, "overstated", now)
                    _close_overstated(store, changes[0], now, "superseded by a new correction")
                    _overstated(store, changes, -net, now)
                    report.overstated += 1
                    continue
                if any(c.status == "overstated" for c in changes):
                    _close_overstated(store, changes[0], now, "the return owes the credit again")
                if net == 0:
                    store.settle_outbox([c.outbox_id for c in changes], "netted", now)
                else:
                    owed += changes
            if owed:
                owed_notes.append(owed)
        owed_notes.sort(key=lambda owed: min(c.outbox_id for c in owed))
        series = self.settings.credit_note_prefix
        numbers = store.take_credit_note_numbers(series, len(owed_notes))
        asins = store.asins(sorted({c.sku for c in credits}))
        issued_at = now.isoformat()
        numbered = [
            _note_body(number, owed, asins, issued_at)
            for number, owed in zip(numbers, owed_notes, strict=True)
        ]
        store.save_credit_notes(series, numbered)
        notes.update(zip(numbers, owed_notes, strict=True))
        # Sent again: as numbered (a note from before notes were kept is dated anew, as then).
        again = sorted(set(notes) - set(numbers))
        bodies = [
            kept[n][1] if n in kept else _note_body(n, notes[n], asins, issued_at) for n in again
        ] + numbered
        bodies.sort(key=lambda body: body["number"])
        for n, chunk in enumerate(_chunks(bodies, self.settings.invoices_per_call), start=1):
            documents = {
                c.outbox_id: body["number"] for body in chunk for c in notes[body["number"]]
            }
            key = f"cycle-{cycle_id}/{CREDIT_NOTES}/{n}"
            store.add_submission(
                cycle_id,
                CREDIT_NOTES,
                None,
                key,
                {"notes": list(chunk)},
                len(chunk),
                list(documents),
                now,
                documents,
            )
            report.prepared += 1
            report.min_calls += 1

    def send(self, report: CycleReport, operation: str | None = None) -> None:
        """Send every prepared submission (of ``operation``, or of all), oldest first for each
        operation, the operations taking turns: each has its own rate limit, so an inventory
        update goes while the credit notes' bucket refills. Amazon unreachable leaves the
        rest."""
        with self.stores() as store:
            prepared = _taking_turns(store.submissions(["prepared"], operation))
        for index, submission in enumerate(prepared):
            try:
                transaction_id = self._submit(submission)
            except AmazonRequestRejected as exc:
                errors = [TransactionError(*e) for e in exc.errors] or [
                    TransactionError("Refused", exc.message)
                ]
                self._refused(submission, errors, report)
                continue
            except AmazonUnavailable:
                report.unsent = len(prepared) - index  # left prepared: the next run sends them
                return
            with self.stores() as store:
                store.mark_submission(submission.id, "sent", self.clock(), transaction_id)
            report.sent += 1

    def _submit(self, submission: Submission) -> str:
        if submission.operation == CREDIT_NOTES:
            return self.vendor.submit_credit_notes(
                [_credit_note(body) for body in submission.body["notes"]]
            )
        positions = [
            InventoryPosition(p["sku"], p.get("asin"), int(p["quantity"]))
            for p in submission.body["positions"]
        ]
        return self.vendor.submit_inventory(submission.warehouse or "", positions)

    def confirm(self, report: CycleReport, operation: str | None = None) -> None:
        """Poll every sent transaction (of ``operation``, or of all) once; settle those that
        reached a final status."""
        with self.stores() as store:
            sent = store.submissions(["sent"], operation)
        report.processing = 0
        for submission in sent:
            assert submission.transaction_id is not None
            read = (
                self.vendor.credit_note_status
                if submission.operation == CREDIT_NOTES
                else self.vendor.inventory_status
            )
            try:
                status = read(submission.transaction_id)
            except AmazonUnavailable:
                report.processing += 1
                continue
            now = self.clock()
            if status.status == "Success":
                with self.stores() as store:
                    store.mark_submission(submission.id, "success", now)
                    changes = store.changes_of(submission.id)
                    store.settle_outbox([c.outbox_id for c in changes], "sent", now)
                    if submission.operation == INVENTORY:
                        store.record_positions(
                            submission.warehouse or "",
                            {p["sku"]: int(p["quantity"]) for p in submission.body["positions"]},
                            now,
                        )
                report.succeeded += 1
            elif status.status == "Failure":
                self._failed(submission, list(status.errors), report)
            elif (
                submission.sent_at is not None
                and now - submission.sent_at > self.settings.stuck_after
            ):
                self._stuck(submission, report)
            else:
                report.processing += 1

    def close(
        self,
        poll_rounds: int = 50,
        pause: Callable[[float], None] | None = None,
        pause_seconds: float = 0.2,
    ) -> CycleReport:
        """Run a whole cycle: prepare, send, then poll until nothing is Processing; add what
        it cost to the cycle's row, and close the cycle if nothing is left in flight."""
        report = CycleReport()
        before = self.meter() if self.meter is not None else None
        self.prepare(report)
        if pause is None:
            self.send(report)
        else:
            self._send_confirming_meanwhile(report, pause_seconds)
        for round_no in range(poll_rounds):
            self.confirm(report)
            if not report.processing:
                break
            if pause is not None and round_no + 1 < poll_rounds:
                pause(pause_seconds)
        if self.meter is not None and before is not None:
            report.calls = self.meter() - before
        spent = report.rejected_items > 0 or (
            report.calls is not None and report.calls.requests > 0
        )
        cycle_id = report.cycle_id
        if cycle_id is not None or spent:
            with self.stores() as store:
                store.count_cycle(cycle_id, report.calls, report.rejected_items)
                if cycle_id is not None and not report.processing and not report.unsent:
                    store.close_cycle(cycle_id, self.clock())
        return report

    def _send_confirming_meanwhile(self, report: CycleReport, pause_seconds: float) -> None:
        """Send every prepared submission while confirming those already sent (a round every
        ``pause_seconds``): per operation, a thread that sends and one that polls. Amazon meters
        each operation apart (its own usage plan), so a large cut-off's inventory updates,
        credit notes and their status reads go side by side, none waiting for another's
        bucket or answers: a backlog drains in about the time its slowest operation's calls
        take. A submission is polled only once its send is recorded, as before."""
        sending_done = threading.Event()
        failures: list[BaseException] = []
        operations = (INVENTORY, CREDIT_NOTES)
        sent = {operation: CycleReport() for operation in operations}
        confirmed = {operation: CycleReport() for operation in operations}

        def send(operation: str) -> None:
            try:
                self.send(sent[operation], operation)
            except BaseException as exc:  # handed to the calling thread, raised there
                failures.append(exc)

        def confirm(operation: str) -> None:
            try:
                while not sending_done.wait(pause_seconds):
                    self.confirm(confirmed[operation], operation)
            except BaseException as exc:
                failures.append(exc)

        senders = [
            threading.Thread(target=send, args=(op,), name=f"cycle-send-{op}") for op in operations
        ]
        pollers = [
            threading.Thread(target=confirm, args=(op,), name=f"cycle-confirm-{op}", daemon=True)
            for op in operations
        ]
        try:
            for thread in (*pollers, *senders):
                thread.start()
        finally:
            for thread in senders:
                if thread.ident is not None:  # started
                    thread.join()
            sending_done.set()
            for thread in pollers:
                if thread.ident is not None:
                    thread.join()
        for operation in operations:
            report.add_sent(sent[operation])
            report.add_confirmed(confirmed[operation])
        if failures:
            raise failures[0]

    # ------------------------------------------------------------- the unhappy paths
    def _refused(
        self, submission: Submission, errors: list[TransactionError], report: CycleReport
    ) -> None:
        """Amazon refused the request itself (400): nothing of it was taken."""
        items = _items(submission)
        with self.stores() as store:
            now = self.clock()
            store.mark_submission(submission.id, "refused", now, errors=errors)
            changes = store.changes_of(submission.id)
            store.settle_outbox([c.outbox_id for c in changes], "rejected", now)
            for item in items:
                report.rejected_lines += _open(
                    store,
                    [c for c in changes if _item_of(submission, c) == item],
                    submission,
                    item,
                    errors[0],
                    now,
                    ExceptionCode.AMAZON_REJECTED,
                )
        report.refused += 1
        report.rejected_items += len(items)

    def _failed(
        self, submission: Submission, errors: list[TransactionError], report: CycleReport
    ) -> None:
        """Amazon applied nothing of a failed transaction: the named items are rejected, a credit
        note Amazon says it already holds is credited (our earlier send landed), and the other
        items go again next cycle."""
        items = _items(submission)
        pattern = _INVOICE_INDEX if submission.operation == CREDIT_NOTES else _ITEM_INDEX
        bad: dict[str, TransactionError] = {}
        held: set[str] = set()
        for error in errors:
            match = pattern.search(error.details or "")
            if not match or int(match.group(1)) >= len(items):
                continue
            item = items[int(match.group(1))]
            if error.code == DUPLICATE_INVOICE:
                held.add(item)
            else:
                bad.setdefault(item, error)
        for item in held:  # Amazon holds it: credited, whatever else it says of the copy
            bad.pop(item, None)
        if not bad and not held:  # no item named: the whole submission failed
            bad = {item: errors[0] if errors else TransactionError("Failure", "") for item in items}
        with self.stores() as store:
            now = self.clock()
            store.mark_submission(submission.id, "failure", now, errors=errors)
            changes = store.changes_of(submission.id)
            item_of = {c.outbox_id: _item_of(submission, c) for c in changes}
            store.settle_outbox(
                [c.outbox_id for c in changes if item_of[c.outbox_id] in held], "sent", now
            )
            store.settle_outbox(
                [c.outbox_id for c in changes if item_of[c.outbox_id] in bad], "rejected", now
            )
            store.release_outbox(
                [c.outbox_id for c in changes if item_of[c.outbox_id] not in set(bad) | held]
            )
            for item, error in sorted(bad.items()):
                report.rejected_lines += _open(
                    store,
                    [c for c in changes if item_of[c.outbox_id] == item],
                    submission,
                    item,
                    error,
                    now,
                    ExceptionCode.AMAZON_REJECTED,
                )
        report.failed += 1
        report.rejected_items += len(bad)
        report.already_held += len(held)

    def _stuck(self, submission: Submission, report: CycleReport) -> None:
        with self.stores() as store:
            now = self.clock()
            store.mark_submission(submission.id, "stuck", now)
            changes = store.changes_of(submission.id)
            error = TransactionError(
                "Stuck",
                f"transaction {submission.transaction_id} still Processing after "
                f"{self.settings.stuck_after}",
            )
            for item in _items(submission):
                _open(
                    store,
                    [c for c in changes if _item_of(submission, c) == item],
                    submission,
                    item,
                    error,
                    now,
                    ExceptionCode.AMAZON_STUCK,
                )
        report.stuck += 1


def _taking_turns(submissions: Sequence[Submission]) -> list[Submission]:
    """One of each operation in turn, each operation's own in their order."""
    by_operation: dict[str, list[Submission]] = defaultdict(list)
    for submission in submissions:
        by_operation[submission.operation].append(submission)
    turns = zip_longest(*by_operation.values())
    return [submission for turn in turns for submission in turn if submission is not None]


def _items(submission: Submission) -> list[str]:
    """The submission's items in request order: SKUs of an inventory update, credit-note
    numbers of a credit-note batch."""
    if submission.operation == CREDIT_NOTES:
        return [str(note["number"]) for note in submission.body["notes"]]
    return [str(p["sku"]) for p in submission.body["positions"]]


def _item_of(submission: Submission, change: Change) -> str:
    return (change.document or "") if submission.operation == CREDIT_NOTES else change.sku


def _open(
    store: CycleStore,
    changes: Sequence[Change],
    submission: Submission,
    item: str,
    error: TransactionError,
    now: datetime,
    code: ExceptionCode,
) -> int:
    """One exception per return line behind one item of a submission (for a stock position
    sent on the snapshot alone, one about the position); returns how many lines."""
    lines: list[tuple[int | None, str | None, str, str]] = sorted(
        {(c.case_id, c.line_id, c.sku, c.warehouse or "") for c in changes}
    )
    if not lines and submission.operation == INVENTORY:
        lines = [(None, None, item, submission.warehouse or "")]
    verb = "rejected" if code is ExceptionCode.AMAZON_REJECTED else "has not confirmed"
    transaction = submission.transaction_id or "not issued"
    for case_id, line_id, sku, warehouse in lines:
        subject = None
        if submission.operation == CREDIT_NOTES:
            what = f"credit note {item} for {sku}"
            body: Any = next(n for n in submission.body["notes"] if n["number"] == item)
            where = {
                "document": item,
                "sku": sku,
                "record": ["invoice", item],
                "returns_reference": body["returns_reference"],
            }
        else:
            dc = f" (ZigZag DC {warehouse})" if warehouse != submission.warehouse else ""
            what = f"the stock update for {sku} at Amazon warehouse {submission.warehouse}{dc}"
            where = {
                "warehouse": warehouse,
                "sku": sku,
                "record": ["inventory", f"{submission.warehouse}/{sku}"],
            }
            body = submission.body
            subject = position_subject(submission.warehouse or "", sku)
        message = f"Amazon {verb} {what} (transaction {transaction}): {error.code}: {error.message}"
        raw = json.dumps(
            {
                "submission": submission.key,
                "operation": submission.operation,
                "transaction": submission.transaction_id,
                **where,
                "error": error.__dict__,
                "body": body,
            }
        )
        store.add_exception(
            code, message, raw, now, case_id=case_id, line_id=line_id, subject=subject
        )
    return len(lines)


def _credit_key(change: Change) -> tuple[str, str, int]:
    return (change.line_id, change.sku, int(change.payload["unit_amount"]))


def _net(changes: Sequence[Change]) -> int:
    if len(changes) == 1:  # most lines: one change, nothing to net
        return int(changes[0].payload["quantity"])
    return sum(int(c.payload["quantity"]) for c in changes)


def _close_overstated(store: CycleStore, change: Change, now: datetime, note: str) -> None:
    for record in store.open_exceptions(change.case_id):
        if record.code == ExceptionCode.CREDIT_OVERSTATED and record.line_id == change.line_id:
            store.close_exception(record.id, "resolved", now, "returnbridge", "netted", note)


def _overstated(store: CycleStore, changes: Sequence[Change], units: int, now: datetime) -> None:
    first = changes[0]
    reference = first.payload["returns_reference"]
    message = (
        f"Amazon holds credit for {units} unit(s) of {first.sku} on return {reference} that the "
        "return no longer owes (it was corrected after its credit note went out). A credit note "
        "cannot take credit back: agree a debit with Amazon Vendor Central, then ignore this "
        "exception with a note"
    )
    raw = json.dumps(
        {
            "operation": CREDIT_NOTES,
            "sku": first.sku,
            "returns_reference": reference,
            "record": ["credit", reference],
            "units": units,
            "messages": [c.payload for c in changes],
        }
    )
    store.add_exception(
        ExceptionCode.CREDIT_OVERSTATED,
        message,
        raw,
        now,
        case_id=first.case_id,
        line_id=first.line_id,
    )


def _note_body(
    number: str, changes: Sequence[Change], asins: dict[str, str | None], issued_at: str
) -> dict[str, Any]:
    """The stored form of one credit note: what ``_credit_note`` turns back into the port's.
    Each line's changes are netted into one item (every item nets above zero)."""
    first = changes[0].payload
    by_key: dict[tuple[str, str, int], list[Change]] = defaultdict(list)
    for change in sorted(changes, key=lambda c: c.outbox_id):
        by_key[_credit_key(change)].append(change)
    return {
        "number": number,
        "issued_at": issued_at,
        "currency": first["currency"],
        "returns_reference": first["returns_reference"],
        "rma_id": first.get("rma_id"),
        "goods_returned_at": min(c.payload["returned_at"] for c in changes),
        "lines": [
            {
                "sku": sku,
                "asin": asins.get(sku),
                "quantity": _net(group),
                "unit_amount": unit_amount,
            }
            for (_, sku, unit_amount), group in by_key.items()
        ],
    }


def _credit_note(body: dict[str, Any]) -> CreditNote:
    return CreditNote(
        number=body["number"],
        issued_at=datetime.fromisoformat(body["issued_at"]),
        currency=body["currency"],
        returns_reference=body["returns_reference"],
        goods_returned_at=datetime.fromisoformat(body["goods_returned_at"]),
        lines=tuple(
            CreditNoteLine(line["sku"], line.get("asin"), line["quantity"], line["unit_amount"])
            for line in body["lines"]
        ),
        rma_id=body.get("rma_id"),
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
