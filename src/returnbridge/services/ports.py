"""The ports the use cases need: the store (one unit of work per transaction) and decoders.

Adapters implement these: ``returnbridge.store.sql.SqlStore`` for SQLite and PostgreSQL, and
one decoder per partner in ``returnbridge.connectors``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from returnbridge.domain.audit_log import AuditEntry, AuditRecord
from returnbridge.domain.catalog import Catalog, CatalogItem
from returnbridge.domain.events import ReturnEvent
from returnbridge.domain.journals import JournalDraft
from returnbridge.domain.routing import LineOutcome


@dataclass(frozen=True)
class InboxRecord:
    """An inbound event as accepted from a transport, before any processing."""

    source: str
    event_id: str
    event_type: str
    payload: str
    case_key: str | None = None
    invalid_reason: str | None = None  # set when the transport already knows it is unreadable


@dataclass(frozen=True)
class InboxRow:
    id: int
    source: str
    event_id: str
    event_type: str
    payload: str
    attempts: int


@dataclass(frozen=True)
class CaseRow:
    id: int
    case_key: str
    return_id: str | None
    order_ref: str | None


@dataclass(frozen=True)
class CaseEventRow:
    inbox_id: int
    body: dict[str, Any]
    raw: str
    event: ReturnEvent | None = None  # the body decoded, where the store already holds it


@dataclass(frozen=True)
class OpenException:
    id: int
    code: str
    line_id: str | None


@dataclass(frozen=True)
class PostedJournal:
    id: int
    entry_key: str
    draft: JournalDraft


@dataclass(frozen=True)
class PostedLine:
    """What the books already hold for one line: its stored row, stock and journals."""

    id: int
    row: dict[str, Any]
    stock_movements: int = 0
    stock: dict[tuple[str, str], int] = field(default_factory=dict)  # (warehouse, sku) -> net
    journal_entries: int = 0
    journal: PostedJournal | None = None
    credit_movements: int = 0
    credit: dict[tuple[str, int, str], int] = field(default_factory=dict)  # CreditDraft.key -> net


@dataclass(frozen=True)
class ExceptionRecord:
    """An exception as a person sees it."""

    id: int
    code: str
    status: str
    message: str
    raw: str
    created_at: datetime
    case_key: str | None
    return_id: str | None
    line_id: str | None
    inbox_id: int | None
    units_received: int
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    resolution_note: str | None
    actions: tuple[dict[str, Any], ...] = ()


class Decoder(Protocol):
    """Reads one stored inbound payload into a ``ReturnEvent``; raises ``InvalidEvent``."""

    def __call__(self, source: str, event_id: str, payload: str) -> ReturnEvent: ...


class Store(Protocol):
    """One transaction against the database. Everything written commits together, or not."""

    # inbox
    def add_to_inbox(self, records: Sequence[InboxRecord], now: datetime) -> list[int | None]: ...
    def claim_inbox(self, limit: int, followers: int = 0) -> list[InboxRow]: ...
    def claim_inbox_row(self, inbox_id: int) -> InboxRow | None: ...
    def lock_keys(self, keys: Sequence[str]) -> None: ...
    def inbox_row(self, inbox_id: int) -> InboxRow | None: ...
    def mark_inbox(
        self,
        inbox_id: int,
        status: str,
        now: datetime,
        error: str | None = None,
        worker: str | None = None,
    ) -> None: ...
    def requeue_inbox(self, inbox_id: int) -> None: ...
    def analyze_inbox(self) -> None: ...
    def refresh_statistics(self) -> list[str]: ...
    def inbox_pending(self) -> int: ...

    # master data
    def replace_catalog(self, items: Sequence[CatalogItem]) -> None: ...
    def load_catalog(self) -> Catalog: ...
    def save_config(self, name: str, source: str, content: str, now: datetime) -> int: ...
    def config(self, name: str) -> tuple[int, str] | None: ...
    def config_versions(self) -> dict[str, int]: ...

    # cases (inside one batch: ``batch_cases`` keeps them in memory until the transaction ends)
    def batch_cases(self, case_keys: Sequence[str], orders: Sequence[str] = ()) -> None:
        """Start (first call) the transaction's unit of work for the pipeline and load these
        cases, and the cases of these orders, into it at once: the cases it touches are read
        once and kept in memory, and what it writes for them is written when the transaction
        ends. Until then, ids it returns may be provisional (negative); a new case's id is
        real at once. A case not loaded here is read when first asked for."""
        ...

    def find_case(
        self, case_key: str, return_id: str | None, order_ref: str | None
    ) -> CaseRow | None: ...
    def create_case(
        self, case_key: str, return_id: str | None, order_ref: str | None, now: datetime
    ) -> CaseRow: ...
    def adopt_case(self, case_id: int, case_key: str, return_id: str) -> None: ...
    def provisional_case_of_order(self, order_ref: str) -> CaseRow | None: ...
    def merge_case(self, from_id: int, into_id: int) -> None: ...
    def add_case_event(
        self,
        case_id: int,
        inbox_id: int,
        body: dict[str, Any],
        raw: str = "",
        event: ReturnEvent | None = None,
    ) -> None: ...
    def mark_processed(self, inbox_id: int, now: datetime, worker: str) -> None: ...
    def case_events(self, case_id: int) -> list[CaseEventRow]: ...
    def update_case(self, case_id: int, values: dict[str, Any], now: datetime) -> None: ...
    def case_by_key(self, case_key: str) -> CaseRow | None: ...

    # lines, stock and journals
    def posted_lines(self, case_id: int) -> dict[str, PostedLine]: ...
    def save_line(
        self,
        case_id: int,
        outcome: LineOutcome,
        warehouse: str | None,
        posted: PostedLine | None,
        now: datetime,
    ) -> int: ...
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
    ) -> None: ...
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
    ) -> None: ...
    def add_journal(
        self,
        key: str,
        line_ref: int,
        draft: JournalDraft,
        reverses_id: int | None,
        inbox_id: int | None,
        now: datetime,
    ) -> int: ...

    # exceptions
    def open_exceptions(self, case_id: int) -> list[OpenException]: ...
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
    def close_exception(
        self, exception_id: int, status: str, now: datetime, by: str, resolution: str, note: str
    ) -> None: ...
    def exception(self, exception_id: int) -> ExceptionRecord | None: ...
    def list_exceptions(
        self,
        status: str | None,
        code: str | None,
        limit: int,
        case_key: str | None = None,
        line_id: str | None = None,
        after_id: int | None = None,  # keyset pagination: only ids above this one
    ) -> list[ExceptionRecord]: ...
    def add_exception_action(
        self,
        exception_id: int,
        action: str,
        actor: str,
        now: datetime,
        note: str,
        detail: dict[str, Any],
    ) -> None: ...

    # outbox
    def add_to_outbox(
        self, topic: str, key: str, payload: dict[str, Any], now: datetime
    ) -> None: ...
    def add_to_outbox_many(
        self, messages: Sequence[tuple[str, str, dict[str, Any], datetime]]
    ) -> None: ...
    def release_amazon_messages(self, case_key: str, line_id: str) -> int: ...
    def void_credit_note(self, number: str, reason: str, by: str, now: datetime) -> bool:
        """Void a numbered credit note that can never be sent (False: not a numbered one)."""
        ...
    def settle_overstated_credit(self, case_key: str, line_id: str, now: datetime) -> int: ...

    # audit log (append-only, hash-chained: domain/audit_log.py)
    def append_audit(self, entry: AuditEntry) -> AuditRecord: ...


StoreFactory = Callable[[], AbstractContextManager[Store]]
Clock = Callable[[], datetime]
Progress = Callable[[int], None]


def noop_progress(_: int) -> None:
    """A progress callback that shows nothing."""


# ---------------------------------------------------------------- Amazon Vendor Central
@dataclass(frozen=True)
class InventoryPosition:
    """The absolute sellable quantity Amazon must hold for one item at one warehouse."""

    identifier: str  # vendor SKU (vendorProductIdentifier)
    asin: str | None
    quantity: int


@dataclass(frozen=True)
class CreditNoteLine:
    sku: str
    asin: str | None
    quantity: int
    unit_amount: int  # minor units, net of tax


@dataclass(frozen=True)
class CreditNote:
    """A returns credit note (SP-API submitInvoices, invoiceType CreditNote)."""

    number: str  # deterministic: the same return line always gives the same number
    issued_at: datetime
    currency: str
    returns_reference: str  # the return's RMA or ZigZag return id ("returnsReferenceNumber")
    goods_returned_at: datetime
    lines: tuple[CreditNoteLine, ...]
    rma_id: str | None = None

    @property
    def total(self) -> int:
        return sum(line.quantity * line.unit_amount for line in self.lines)


@dataclass(frozen=True)
class TransactionError:
    code: str
    message: str
    details: str = ""


@dataclass(frozen=True)
class TransactionStatus:
    """Amazon's answer about a submission: Processing, Success or Failure (with errors)."""

    transaction_id: str
    status: str
    errors: tuple[TransactionError, ...] = ()


class AmazonVendor(Protocol):
    """Amazon Vendor Central's write paths for returns, and their transaction status.

    Submissions are asynchronous: each returns a transaction id to poll (SP-API pushes nothing
    for vendors). Implementations retry throttling, server errors and lost connections
    themselves, and raise ``AmazonRequestRejected`` for a request Amazon refuses as invalid.
    """

    def submit_inventory(
        self, warehouse_id: str, positions: Sequence[InventoryPosition]
    ) -> str: ...
    def submit_credit_notes(self, notes: Sequence[CreditNote]) -> str: ...
    def inventory_status(self, transaction_id: str) -> TransactionStatus: ...
    def credit_note_status(self, transaction_id: str) -> TransactionStatus: ...
