"""Importing Amazon Vendor Central's report exports: return requests, refunds, remittance.

Vendor Central has no returns API (see docs/amazon-exports.md), so its CSV exports are the
source of these facts. Two kinds of thing come out of an export:

- **events** for the pipeline: a refund at first scan is an inbox event (source ``amazon``,
  type ``refund.first_scan``), exactly as the JSON refund feed stores it; unreadable rows are
  inbox records kept raw with their reason, which opens an ``INVALID_EVENT`` exception;
- **facts** for finance, stored as they are and never processed: return requests, standard
  (not at first scan) refunds and remittance lines, each under its natural key.

A fact whose key is already stored with the same values is a duplicate. One stored with
*other* values is a conflict: the stored row stands, and the row is kept raw as an
``INVALID_EVENT`` exception naming the fields that differ, so a person decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Protocol

from returnbridge.domain.money import Money
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import Clock, InboxRecord, Progress, Store, noop_progress

SOURCE = "amazon"  # the inbox source of every Amazon fact, as the refund decoder expects


@dataclass(frozen=True)
class ReturnRequest:
    """An Amazon-initiated return request (a vendor return authorisation) from Vendor Central."""

    request_id: str
    vendor_code: str
    order_id: str
    asin: str
    quantity_requested: int
    quantity_approved: int
    refund: Money  # what Amazon refunds (or charges back) for the request
    condition: str  # sellable | damaged
    requested_at: datetime
    rma_id: str | None = None  # RMA or VRET id, when Amazon gave one

    kind = "return_request"

    @property
    def key(self) -> tuple[str | int, ...]:
        return (self.request_id,)


@dataclass(frozen=True)
class StandardRefund:
    """A customer refund Amazon made after the goods came back (not at first scan).

    Not a return event: finance uses it to reconcile the credit Amazon expects with what it
    was credited. Refunds at first scan are inbox events instead.
    """

    refund_id: str
    order_id: str
    asin: str
    quantity: int
    amount: Money
    refunded_at: datetime

    kind = "refund"

    @property
    def key(self) -> tuple[str | int, ...]:
        return (self.refund_id,)


@dataclass(frozen=True)
class Deduction:
    type: str
    amount: int  # minor units withheld, in the line's currency


@dataclass(frozen=True)
class RemittanceLine:
    """One line of a Vendor Central payment: a document paid (or taken back), and deductions.

    ``amount`` is signed as Amazon shows it: positive pays the vendor (an invoice), negative
    takes money back (a credit note such as ``RBCN-123``). Deductions are withheld from it.
    """

    payment_id: str
    document_number: str
    line_no: int
    document_type: str  # invoice | credit_note
    amount: Money
    paid_at: datetime
    deductions: tuple[Deduction, ...] = ()
    description: str = ""

    kind = "remittance"

    @property
    def key(self) -> tuple[str | int, ...]:
        return (self.payment_id, self.document_number, self.line_no)

    @property
    def deductions_total(self) -> int:
        return sum(d.amount for d in self.deductions)


AmazonFact = ReturnRequest | StandardRefund | RemittanceLine


@dataclass(frozen=True)
class ExportedFact:
    """A fact as read from an export, with where it came from and the row as written."""

    fact: AmazonFact
    where: str  # "FILE row N"
    raw: str


ExportItem = ExportedFact | InboxRecord


class VendorExportStore(Store, Protocol):
    """The store, plus the tables of Amazon's export facts."""

    def add_amazon_facts(
        self, facts: Sequence[AmazonFact], now: datetime
    ) -> list[AmazonFact | None]:
        """Store the facts whose key is new; for each fact, None when it was stored, else the
        fact already held under its key (stored before, or earlier in ``facts``)."""
        ...


VendorStoreFactory = Callable[[], AbstractContextManager[VendorExportStore]]


@dataclass
class VendorImportResult:
    """Totals of one export imported, with the first problems in words (naming the rows)."""

    accepted: int = 0  # rows newly stored: facts and events
    events: int = 0  # of which inbox events (refunds at first scan) waiting for `process`
    duplicates: int = 0
    unreadable: int = 0
    conflicts: int = 0
    problems: list[str] = field(default_factory=list)


def label(fact: AmazonFact) -> str:
    """The fact in words, by its key: ``remittance line PAY-1/RBCN-12/3``."""
    nouns = {
        "return_request": "return request",
        "refund": "refund",
        "remittance": "remittance line",
    }
    return f"{nouns[fact.kind]} {'/'.join(str(part) for part in fact.key)}"


def _decimal(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _show(value: object) -> str:
    if isinstance(value, Money):
        return f"{_decimal(value.amount)} {value.currency}"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return "|".join(f"{d.type}={_decimal(d.amount)}" for d in value) or "none"
    return str(value)


def differences(stored: AmazonFact, new: AmazonFact) -> list[str]:
    """The fields where two facts of the same key differ, stored value first."""
    return [
        f"'{f.name}' {_show(getattr(stored, f.name))} stored, "
        f"{_show(getattr(new, f.name))} in this row"
        for f in fields(stored)
        if getattr(stored, f.name) != getattr(new, f.name)
    ]


def _conflict(item: ExportedFact, stored: AmazonFact) -> InboxRecord:
    fact = item.fact
    name = "/".join(str(part) for part in fact.key)
    digest = hashlib.sha256(f"{fact.kind}\n{item.raw}".encode()).hexdigest()[:16]
    changed = "; ".join(differences(stored, fact))
    return InboxRecord(
        source=SOURCE,
        # Keyed by content: the same conflicting row imported again is a duplicate.
        event_id=f"{fact.kind}:{name[:150]}#conflict-{digest}",
        event_type=f"amazon.{fact.kind}.conflict",
        payload=item.raw,
        invalid_reason=(
            f"{item.where}: {label(fact)} was imported before with other values ({changed}); "
            "the stored row is kept"
        ),
    )


def _store_batch(
    store: VendorExportStore, batch: Sequence[ExportItem], now: datetime, result: VendorImportResult
) -> list[str]:
    records = [item for item in batch if isinstance(item, InboxRecord)]
    exported = [item for item in batch if isinstance(item, ExportedFact)]
    got = ingest(store, records, now)
    result.events += got.accepted
    result.accepted += got.accepted
    result.duplicates += got.duplicates
    result.unreadable += got.invalid
    problems = list(got.problems)
    held = store.add_amazon_facts([item.fact for item in exported], now)
    conflicts = []
    for item, stored in zip(exported, held, strict=True):
        if stored is None:
            result.accepted += 1
        elif stored == item.fact:
            result.duplicates += 1
        else:
            conflicts.append(_conflict(item, stored))
    if conflicts:
        got = ingest(store, conflicts, now)
        result.conflicts += got.invalid
        result.duplicates += got.duplicates  # the same conflict, already kept
        problems.extend(got.problems)
    return problems


def import_vendor_export(
    stores: VendorStoreFactory,
    items: Iterable[ExportItem],
    clock: Clock,
    batch_size: int = 1_000,
    progress: Progress = noop_progress,
    keep_problems: int = 50,
) -> VendorImportResult:
    """Store an export read as a stream, in batches of one transaction each.

    Memory stays bounded whatever the file size. Importing the same file again stores
    nothing and counts every row as a duplicate.
    """
    result = VendorImportResult()
    batch: list[ExportItem] = []

    def flush() -> None:
        with stores() as store:
            problems = _store_batch(store, batch, clock(), result)
        result.problems.extend(problems[: max(0, keep_problems - len(result.problems))])
        progress(len(batch))
        batch.clear()

    for item in items:
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return result
