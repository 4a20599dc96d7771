"""Clearing cycles: at each cut-off, tell Amazon what changed, in the fewest calls, and confirm.

A cycle has three steps, each committed before the next starts, so a crash anywhere resumes
where it stopped and sends nothing twice in effect:

1. **prepare**: the pending stock changes are coalesced per (warehouse, SKU) into the absolute
   quantity Amazon must hold (the ledger's position), chunked into as few
   ``submitInventoryUpdate`` requests as the per-call item limit allows, and stored as
   *prepared* submissions, with the outbox messages they settle.
2. **send**: each prepared submission is sent and its transaction id recorded. A crash between
   sending and recording resends the same absolute quantities: harmless.
3. **confirm**: each sent transaction is polled to its final status. Success settles its
   messages and records what Amazon holds; Failure opens ``AMAZON_REJECTED`` on the exact return
   lines behind each rejected item (Amazon's code and message kept) and puts the other items back
   for the next cycle; a transaction Processing past the stuck limit opens ``AMAZON_STUCK``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from returnbridge.domain.errors import AmazonRequestRejected, AmazonUnavailable, ExceptionCode
from returnbridge.services.ports import AmazonVendor, Clock, InventoryPosition, TransactionError

INVENTORY = "inventory"
_ITEM_INDEX = re.compile(r"items\[(\d+)\]")


@dataclass(frozen=True)
class StockChange:
    """A pending outbox message about one line's sellable stock."""

    outbox_id: int
    warehouse: str
    sku: str
    case_id: int
    line_id: str


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


class CycleStore(Protocol):
    """The store as the clearing cycle needs it (one transaction per unit of work)."""

    def create_cycle(self, now: datetime) -> int: ...
    def close_cycle(self, cycle_id: int, now: datetime) -> None: ...
    def pending_stock_changes(self) -> list[StockChange]: ...
    def ledger_positions(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]: ...
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
    ) -> int: ...
    def submissions(self, statuses: Sequence[str]) -> list[Submission]: ...
    def mark_submission(
        self,
        submission_id: int,
        status: str,
        now: datetime,
        transaction_id: str | None = None,
        errors: Sequence[TransactionError] = (),
    ) -> None: ...
    def changes_of(self, submission_id: int) -> list[StockChange]: ...
    def settle_outbox(self, outbox_ids: Sequence[int], status: str, now: datetime) -> None: ...
    def release_outbox(self, outbox_ids: Sequence[int]) -> None: ...
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
    ) -> int: ...


CycleStores = Callable[[], AbstractContextManager[CycleStore]]


@dataclass(frozen=True)
class CycleSettings:
    """How cycles talk to Amazon. The per-call item limit is ours: the model sets none."""

    items_per_call: int = 500
    stuck_after: timedelta = timedelta(hours=24)
    warehouses: dict[str, str] = field(default_factory=dict)  # ZigZag DC -> Amazon warehouse


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
    min_calls: int = 0


class ClearingCycle:
    """Prepare, send and confirm the inventory updates of one cut-off."""

    def __init__(
        self,
        stores: CycleStores,
        vendor: AmazonVendor,
        clock: Clock,
        settings: CycleSettings | None = None,
    ) -> None:
        self.stores = stores
        self.vendor = vendor
        self.clock = clock
        self.settings = settings or CycleSettings()

    def prepare(self, report: CycleReport) -> None:
        """Coalesce pending stock changes into prepared submissions (one transaction)."""
        with self.stores() as store:
            changes = store.pending_stock_changes()
            if not changes:
                return
            now = self.clock()
            cycle_id = store.create_cycle(now)
            report.cycle_id = cycle_id
            by_position: dict[tuple[str, str], list[int]] = defaultdict(list)
            for change in changes:
                warehouse = self.settings.warehouses.get(change.warehouse, change.warehouse)
                by_position[(warehouse, change.sku)].append(change.outbox_id)
            quantities = store.ledger_positions(sorted(by_position))
            asins = store.asins(sorted({sku for _, sku in by_position}))
            by_warehouse: dict[str, list[str]] = defaultdict(list)
            for warehouse, sku in sorted(by_position):
                by_warehouse[warehouse].append(sku)
            for warehouse, skus in sorted(by_warehouse.items()):
                for n, chunk in enumerate(_chunks(skus, self.settings.items_per_call), start=1):
                    positions = [
                        {
                            "sku": sku,
                            "asin": asins.get(sku),
                            "quantity": quantities[(warehouse, sku)],
                        }
                        for sku in chunk
                    ]
                    outbox_ids = [i for sku in chunk for i in by_position[(warehouse, sku)]]
                    key = f"cycle-{cycle_id}/{INVENTORY}/{warehouse}/{n}"
                    body = {"positions": positions}
                    store.add_submission(
                        cycle_id, INVENTORY, warehouse, key, body, len(positions), outbox_ids, now
                    )
                    report.prepared += 1
                    report.min_calls += 1

    def send(self, report: CycleReport) -> None:
        """Send every prepared submission, oldest first; Amazon unreachable leaves the rest."""
        with self.stores() as store:
            prepared = store.submissions(["prepared"])
        for index, submission in enumerate(prepared):
            positions = [
                InventoryPosition(p["sku"], p.get("asin"), int(p["quantity"]))
                for p in submission.body["positions"]
            ]
            try:
                transaction_id = self.vendor.submit_inventory(submission.warehouse or "", positions)
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

    def confirm(self, report: CycleReport) -> None:
        """Poll every sent transaction once; settle those that reached a final status."""
        with self.stores() as store:
            sent = store.submissions(["sent"])
        report.processing = 0
        for submission in sent:
            assert submission.transaction_id is not None
            try:
                status = self.vendor.inventory_status(submission.transaction_id)
            except AmazonUnavailable:
                report.processing += 1
                continue
            now = self.clock()
            if status.status == "Success":
                with self.stores() as store:
                    store.mark_submission(submission.id, "success", now)
                    changes = store.changes_of(submission.id)
                    store.settle_outbox([c.outbox_id for c in changes], "sent", now)
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
        """Run a whole cycle: prepare, send, then poll until nothing is Processing."""
        report = CycleReport()
        self.prepare(report)
        self.send(report)
        for round_no in range(poll_rounds):
            self.confirm(report)
            if not report.processing:
                break
            if pause is not None and round_no + 1 < poll_rounds:
                pause(pause_seconds)
        if report.cycle_id is not None and not report.processing and not report.unsent:
            with self.stores() as store:
                store.close_cycle(report.cycle_id, self.clock())
        return report

    # ------------------------------------------------------------- the unhappy paths
    def _refused(
        self, submission: Submission, errors: list[TransactionError], report: CycleReport
    ) -> None:
        with self.stores() as store:
            now = self.clock()
            store.mark_submission(submission.id, "refused", now, errors=errors)
            changes = store.changes_of(submission.id)
            store.settle_outbox([c.outbox_id for c in changes], "rejected", now)
            report.rejected_lines += _open(
                store, changes, submission, errors[0], now, ExceptionCode.AMAZON_REJECTED
            )
        report.refused += 1
        report.rejected_items += len(submission.body["positions"])

    def _failed(
        self, submission: Submission, errors: list[TransactionError], report: CycleReport
    ) -> None:
        positions = submission.body["positions"]
        bad: dict[str, TransactionError] = {}
        for error in errors:
            match = _ITEM_INDEX.search(error.details or "")
            if match and int(match.group(1)) < len(positions):
                bad.setdefault(positions[int(match.group(1))]["sku"], error)
        if not bad:  # no item named: the whole submission failed
            bad = {
                p["sku"]: errors[0] if errors else TransactionError("Failure", "")
                for p in positions
            }
        with self.stores() as store:
            now = self.clock()
            store.mark_submission(submission.id, "failure", now, errors=errors)
            changes = store.changes_of(submission.id)
            rejected = [c for c in changes if c.sku in bad]
            store.settle_outbox([c.outbox_id for c in rejected], "rejected", now)
            # Amazon applies nothing of a failed transaction: the good items go again next cycle.
            store.release_outbox([c.outbox_id for c in changes if c.sku not in bad])
            for sku, error in sorted(bad.items()):
                report.rejected_lines += _open(
                    store,
                    [c for c in rejected if c.sku == sku],
                    submission,
                    error,
                    now,
                    ExceptionCode.AMAZON_REJECTED,
                )
        report.failed += 1
        report.rejected_items += len(bad)

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
            _open(store, changes, submission, error, now, ExceptionCode.AMAZON_STUCK)
        report.stuck += 1


def _open(
    store: CycleStore,
    changes: Sequence[StockChange],
    submission: Submission,
    error: TransactionError,
    now: datetime,
    code: ExceptionCode,
) -> int:
    """One exception per return line behind the changes; returns how many lines."""
    lines = sorted({(c.case_id, c.line_id, c.sku, c.warehouse) for c in changes})
    for case_id, line_id, sku, warehouse in lines:
        verb = "rejected" if code is ExceptionCode.AMAZON_REJECTED else "has not confirmed"
        message = (
            f"Amazon {verb} the stock update for {sku} at {warehouse} "
            f"(transaction {submission.transaction_id or 'not issued'}): "
            f"{error.code}: {error.message}"
        )
        raw = json.dumps(
            {
                "submission": submission.key,
                "transaction": submission.transaction_id,
                "warehouse": warehouse,
                "sku": sku,
                "error": error.__dict__,
                "body": submission.body,
            }
        )
        store.add_exception(code, message, raw, now, case_id=case_id, line_id=line_id)
    return len(lines)


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
