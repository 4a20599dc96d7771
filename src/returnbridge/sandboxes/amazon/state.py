"""``AmazonSandbox``: what the sandbox knows, decides and counts, inspectable from tests.

Submissions are processed in arrival order the moment they are accepted: the outcome is fixed
then and a ``Success`` is applied to ``stock`` / ``credit_notes`` at once. The status APIs only
*reveal* that outcome, after ``polls_until_final`` reads (or ``seconds_until_final``). So a
submission whose response was lost (a drop) is still applied, as on the real service, and the
god's-eye state here is "what Amazon will end up with". Stuck transactions are never applied.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from returnbridge.sandboxes.amazon.catalog import (
    DF_STATUS,
    RETAIL_STATUS,
    SUBMIT_INVENTORY,
    SUBMIT_INVOICES,
    Operation,
    load_catalog,
)
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.processing import (
    DUPLICATE_INVOICE,
    Status,
    Transaction,
    apply_inventory,
    identifier_of,
    judge_inventory,
    judge_invoices,
    stable_draw,
)
from returnbridge.sandboxes.amazon.ratelimit import Clock, TokenBucket

# LWA's answer to a refresh token that expired, was revoked or was issued to another app.
INVALID_REFRESH_TOKEN = (
    "The request has an invalid grant parameter : refresh_token. "
    "User may have revoked or didn't grant the permission."
)


@dataclass
class OperationCounters:
    """What one operation was asked and answered; injected faults counted apart."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    """Status of every response head sent, per status (a dropped response counts too)."""
    errors_injected: int = 0
    storms_injected: int = 0
    drops_injected: int = 0
    slow_injected: int = 0

    @property
    def accepted(self) -> int:
        """200 and 202 answers."""
        return self.statuses[200] + self.statuses[202]

    @property
    def throttled(self) -> int:
        """429 answers, from the bucket and from injected storms alike."""
        return self.statuses[429]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "throttled": self.throttled,
            "statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "errors_injected": self.errors_injected,
            "storms_injected": self.storms_injected,
            "drops_injected": self.drops_injected,
            "slow_injected": self.slow_injected,
        }


RecordKind = Literal["inventory", "invoice"]


@dataclass(frozen=True)
class RejectedItem:
    """One bad item of a failed transaction, and the record it carried."""

    transaction_id: str
    index: int
    code: str
    kind: RecordKind
    record: str
    """The record's identity: ``warehouseId/identifier`` for inventory, the invoice id."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, as in ``snapshot()``."""
        return {
            "transactionId": self.transaction_id,
            "index": self.index,
            "code": self.code,
            "kind": self.kind,
            "record": self.record,
        }


@dataclass(frozen=True)
class Fault:
    """What fault injection decided for one vendor request."""

    kind: Literal["none", "error", "storm", "drop"] = "none"
    status: int = 0
    """500 or 503 for ``error``."""
    delay: float = 0.0


NO_FAULT = Fault()


class AmazonSandbox:
    """The sandbox's state and rules. Thread-safe: the server runs in another thread.

    Inspectable state (also served as JSON by ``snapshot()`` / ``GET /_sandbox/state``):

    - ``stock``: ``(warehouseId, identifier) -> availableQuantity`` as last applied; the
      identifier is ``vendorProductIdentifier``, else the ASIN (``buyerProductIdentifier``).
    - ``credit_notes`` / ``invoices``: id -> the accepted ``Invoice`` JSON, by invoiceType.
    - ``duplicate_credit_notes`` (count) and ``duplicate_credit_note_ids``: credit-note numbers
      submitted again and refused as ``DuplicateInvoice``, one per occurrence.
    - ``rejected_items``: one ``RejectedItem`` per problem of a failed transaction, except
      ``DuplicateInvoice``, which goes to ``refused_duplicates`` (Amazon holds the first, it did
      not reject the record); ``rejected_records()``: the distinct records rejected, however
      often resent; ``failed_transaction_items``: all items of failed transactions (none applied).
    - ``transactions``: transactionId -> ``Transaction``.
    - ``counters``: operationId -> ``OperationCounters``; ``token_requests``, ``tokens_issued``.
    """

    def __init__(self, config: SandboxConfig | None = None, clock: Clock = time.monotonic) -> None:
        self.config = config or SandboxConfig()
        self.clock = clock
        self.catalog: Mapping[str, Operation] = load_catalog()
        self._lock = threading.RLock()
        # Tokens survive ``reset`` so clients that cache them (python-amazon-sp-api does, for
        # ~53 minutes, process-wide) keep working across test cases.
        self.tokens: dict[str, float] = {}
        self.reset()

    def reset(self, config: SandboxConfig | None = None) -> None:
        """Forget every submission, count and bucket, and re-seed the RNGs (tokens stay valid).

        With ``config``, the sandbox behaves by that config from now on.
        """
        with self._lock:
            if config is not None:
                self.config = config
            seed = self.config.seed
            self._fault_rng = random.Random(f"{seed}/faults")
            self._outcome_rng = random.Random(f"{seed}/outcomes")
            self._id_rng = random.Random(f"{seed}/ids")
            self._request_rng = random.Random(f"{seed}/requests")
            self._buckets: dict[str, TokenBucket] = {}
            self.stock: dict[tuple[str, str], int] = {
                (warehouse, sku): units for warehouse, sku, units in self.config.opening_stock
            }
            self.credit_notes: dict[str, dict[str, Any]] = {}
            self.invoices: dict[str, dict[str, Any]] = {}
            self.duplicate_credit_notes = 0
            self.duplicate_credit_note_ids: list[str] = []
            self.rejected_items: list[RejectedItem] = []
            self.refused_duplicates: list[RejectedItem] = []
            self.failed_transaction_items = 0
            self.transactions: dict[str, Transaction] = {}
            self.counters = {name: OperationCounters() for name in self.catalog}
            self.token_requests = 0
            self.tokens_issued = 0

    # ------------------------------------------------------------------ identity
    def reconfigure(self, config: SandboxConfig) -> None:
        """Change the knobs from now on, keeping the state (stock, transactions, credit notes)."""
        with self._lock:
            self.config = config

    def _reject_draw(self, what: str) -> float:
        return stable_draw(self.config.seed, what)

    def _guid(self, rng: random.Random) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def new_request_id(self) -> str:
        """A fresh ``x-amzn-RequestId``."""
        with self._lock:
            return self._guid(self._request_rng)

    def issue_token(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer an LWA refresh-token grant: (status, body) in LWA's own shapes."""
        with self._lock:
            self.token_requests += 1
            config = self.config
            grant = form.get("grant_type", "")
            if not grant:
                return 400, _lwa("invalid_request", "The request is missing grant_type")
            if grant != "refresh_token":
                return 400, _lwa("unsupported_grant_type", f"Grant type {grant} is not supported")
            if form.get("client_id") != config.client_id or (
                form.get("client_secret") != config.client_secret
            ):
                return 401, _lwa("invalid_client", "Client authentication failed")
            refresh = form.get("refresh_token", "")
            if not refresh or (config.refresh_tokens and refresh not in config.refresh_tokens):
                return 400, _lwa("invalid_grant", INVALID_REFRESH_TOKEN)
            token = f"Atza|{self._id_rng.getrandbits(256):064x}"
            self.tokens[token] = self.clock() + config.token_ttl_seconds
            self.tokens_issued += 1
            return 200, {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": config.token_ttl_seconds,
                "refresh_token": refresh,
            }

    def token_valid(self, token: str | None) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        with self._lock:
            expires = self.tokens.get(token or "")
            return expires is not None and self.clock() < expires

    # ---------------------------------------------------------------- throttling
    def usage_plan(self, operation_id: str) -> tuple[float, int]:
        """The rate (requests per second) and burst enforced for an operation: its model's usage
        plan, scaled by ``rate_multiplier`` (1: Amazon's defaults)."""
        operation = self.catalog[operation_id]
        multiplier = self.config.rate_multiplier
        return operation.rate * multiplier, max(1, round(operation.burst * multiplier))

    def _bucket(self, operation: Operation) -> TokenBucket:
        bucket = self._buckets.get(operation.operation_id)
        if bucket is None:
            rate, burst = self.usage_plan(operation.operation_id)
            bucket = TokenBucket(rate, burst, self.clock)
            self._buckets[operation.operation_id] = bucket
        return bucket

    def try_take(self, operation: Operation) -> bool:
        """Take a token from the operation's bucket; False means answer 429."""
        with self._lock:
            return self._bucket(operation).try_take()

    def rate_limit_header(self, operation: Operation) -> str:
        """The ``x-amzn-RateLimit-Limit`` value: the applied rate, e.g. ``"10.0"``."""
        return str(float(self.usage_plan(operation.operation_id)[0]))

    # --------------------------------------------------------------- accounting
    def draw_fault(self, operation: Operation) -> Fault:
        """Count one vendor request and decide its injected fault, if any."""
        with self._lock:
            config = self.config
            counters = self.counters[operation.operation_id]
            counters.requests += 1
            # Always three draws per request, so the fault sequence depends on the seed only.
            kind_draw, slow_draw, status_draw = (self._fault_rng.random() for _ in range(3))
            delay = config.slow_seconds if slow_draw < config.slow_rate else 0.0
            if delay:
                counters.slow_injected += 1
            if kind_draw < config.error_rate:
                counters.errors_injected += 1
                return Fault("error", 500 if status_draw < 0.5 else 503, delay)
            if kind_draw < config.error_rate + config.throttle_storm_rate:
                counters.storms_injected += 1
                return Fault("storm", 429, delay)
            if kind_draw < config.error_rate + config.throttle_storm_rate + config.drop_rate:
                counters.drops_injected += 1
                return Fault("drop", 0, delay)
            return Fault("none", 0, delay) if delay else NO_FAULT

    def record_status(self, operation: Operation, status: int) -> None:
        """Count the status a vendor request was answered with."""
        with self._lock:
            self.counters[operation.operation_id].statuses[status] += 1

    # --------------------------------------------------------------- submissions
    def _accept(self, operation_id: str, status_operation_id: str, items: int) -> Transaction:
        stuck = self._outcome_rng.random() < self.config.stuck_rate
        return Transaction(
            transaction_id=self._guid(self._id_rng),
            operation_id=operation_id,
            status_operation_id=status_operation_id,
            submitted_at=self.clock(),
            outcome="Processing" if stuck else "Success",
            item_count=items,
        )

    def _settle(self, transaction: Transaction, kind: RecordKind, records: Sequence[str]) -> bool:
        """Record the transaction; True when it succeeded and its items are to be applied.

        ``records`` names the record of each item, by position, for ``rejected_records()``.
        """
        self.transactions[transaction.transaction_id] = transaction
        if transaction.outcome == "Processing":
            transaction.problems = []  # stuck: never decided, never applied
            return False
        if transaction.problems:
            transaction.outcome = "Failure"
            self.failed_transaction_items += transaction.item_count
            for p in transaction.problems:
                bad = RejectedItem(
                    transaction.transaction_id, p.index, p.code, kind, records[p.index]
                )
                refused = p.code == DUPLICATE_INVOICE
                (self.refused_duplicates if refused else self.rejected_items).append(bad)
            return False
        return True

    def submit_inventory(self, warehouse_id: str, body: dict[str, Any]) -> str:
        """Accept a valid ``SubmitInventoryUpdateRequest``; returns the transactionId."""
        with self._lock:
            inventory = body["inventory"]
            transaction = self._accept(SUBMIT_INVENTORY, DF_STATUS, len(inventory["items"]))
            transaction.problems = judge_inventory(
                inventory, self.config.known_items, self._reject_draw, self.config.reject_rate
            )
            records = [f"{warehouse_id}/{identifier_of(i)}" for i in inventory["items"]]
            if self._settle(transaction, "inventory", records):
                apply_inventory(self.stock, warehouse_id, inventory)
            return transaction.transaction_id

    def _invoice_known(self, number: str) -> bool:
        known = self.config.known_invoices
        return not known or number in known or number in self.invoices

    def _book(self, invoice_type: str) -> dict[str, dict[str, Any]]:
        """Where Amazon holds accepted invoices of that ``invoiceType``."""
        return self.credit_notes if invoice_type == "CreditNote" else self.invoices

    def _held(self, invoice_type: str, number: str) -> bool:
        return number in self._book(invoice_type)

    def submit_invoices(self, body: dict[str, Any]) -> str:
        """Accept a valid ``SubmitInvoicesRequest``; returns the transactionId.

        An invoice number Amazon already holds, or repeated within the request, fails the
        transaction with ``DuplicateInvoice`` (counted in ``duplicate_credit_notes`` for a
        credit note); the first stays as it was.
        """
        with self._lock:
            invoices: list[dict[str, Any]] = body["invoices"]
            transaction = self._accept(SUBMIT_INVOICES, RETAIL_STATUS, len(invoices))
            transaction.problems = judge_invoices(
                invoices,
                self._invoice_known,
                self._held,
                self._reject_draw,
                self.config.reject_rate,
            )
            records = [str(invoice["id"]) for invoice in invoices]
            if self._settle(transaction, "invoice", records):
                for invoice in invoices:
                    self._book(invoice["invoiceType"])[invoice["id"]] = invoice
                return transaction.transaction_id
            for problem in transaction.problems:  # empty when stuck: never decided
                refused = invoices[problem.index]
                if problem.code == DUPLICATE_INVOICE and refused["invoiceType"] == "CreditNote":
                    self.duplicate_credit_notes += 1
                    self.duplicate_credit_note_ids.append(str(refused["id"]))
            return transaction.transaction_id

    # -------------------------------------------------------------------- status
    def _visible_status(self, transaction: Transaction) -> Status:
        config = self.config
        reads, transaction.status_reads = transaction.status_reads, transaction.status_reads + 1
        if reads >= config.polls_until_final:
            return transaction.outcome
        waited = self.clock() - transaction.submitted_at
        # A microsecond of slack: clock readings are floats, and 1000.1 + 30 - 1000.1 < 30.
        if config.seconds_until_final is not None and waited >= config.seconds_until_final - 1e-6:
            return transaction.outcome
        return "Processing"

    def read_status(self, status_operation_id: str, transaction_id: str) -> dict[str, Any] | None:
        """The ``Transaction`` object for a status read, or None if that API does not know it.

        DF submissions are known only to DF ``getTransactionStatus`` and retail ones only to
        ``getTransaction``, as on Amazon.
        """
        with self._lock:
            transaction = self.transactions.get(transaction_id)
            if transaction is None or transaction.status_operation_id != status_operation_id:
                return None
            status = self._visible_status(transaction)
            result: dict[str, Any] = {"transactionId": transaction_id, "status": status}
            if status == "Failure":
                result["errors"] = [p.as_error() for p in transaction.problems]
            return result

    # ---------------------------------------------------------------- inspection
    def rejected_records(self) -> set[tuple[RecordKind, str]]:
        """The distinct records Amazon rejected, as ``(kind, identity)``: a record rejected in
        several transactions (say, a request resent after its answer was lost) counts once."""
        with self._lock:
            return {(r.kind, r.record) for r in self.rejected_items}

    def snapshot(self) -> dict[str, Any]:
        """Everything inspectable, as JSON (served at ``GET /_sandbox/state``)."""
        with self._lock:
            return {
                "config": self.config.public_dict(),
                "stock": [
                    {"warehouseId": w, "identifier": i, "availableQuantity": q}
                    for (w, i), q in sorted(self.stock.items())
                ],
                "credit_notes": dict(self.credit_notes),
                "invoices": dict(self.invoices),
                "duplicate_credit_notes": self.duplicate_credit_notes,
                "duplicate_credit_note_ids": list(self.duplicate_credit_note_ids),
                "rejected_items": [r.as_dict() for r in self.rejected_items],
                "refused_duplicates": [r.as_dict() for r in self.refused_duplicates],
                "rejected_records": [list(r) for r in sorted(self.rejected_records())],
                "failed_transaction_items": self.failed_transaction_items,
                "transactions": {
                    t.transaction_id: {
                        "operation": t.operation_id,
                        "outcome": t.outcome,
                        "statusReads": t.status_reads,
                        "errors": [p.as_error() for p in t.problems],
                    }
                    for t in self.transactions.values()
                },
                "counters": {name: c.as_dict() for name, c in self.counters.items()},
                "token_requests": self.token_requests,
                "tokens_issued": self.tokens_issued,
            }


def _lwa(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}
