"""Refund at First Scan: returns Amazon refunded before the goods came back.

Two things can go wrong with such a return, and both cost money if nobody looks:

- the goods never arrive: after the window (default 14 days from the refund) the case gets an
  ``RFS_NOT_RECEIVED`` exception, which closes by itself if the goods turn up later;
- the goods arrive damaged (graded to a write-off or liquidation route) or materially different
  (another product than the one refunded): the return is a **SAFE-T claim candidate**, to be
  claimed from Amazon before the deadline of the account's claim rule (``domain/accounts.py``:
  60 days from the refund by default; in the US, 30 days from the later of the return's delivery
  scan and the refund), by the route the account uses (a Vendor Central dispute, or SAFE-T).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from returnbridge.domain.accounts import Accounts, ClaimRoute, ClaimRule
from returnbridge.domain.catalog import Catalog
from returnbridge.domain.codec import event_from_dict
from returnbridge.domain.errors import ExceptionCode
from returnbridge.domain.mappings import Mappings, Route
from returnbridge.domain.returns import CaseFacts, fold_case
from returnbridge.domain.stock import WarehouseMap
from returnbridge.services.ports import CaseEventRow, Clock, OpenException

DAMAGED_ROUTES = frozenset({Route.WRITE_OFF, Route.LIQUIDATE})


class RfsStore(Protocol):
    def refunded_cases(self) -> list[tuple[int, str]]: ...  # (case id, case key)
    def case_events(self, case_id: int) -> list[CaseEventRow]: ...
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


RfsStores = Callable[[], AbstractContextManager[RfsStore]]


@dataclass(frozen=True)
class RefundedCase:
    case_id: int
    case_key: str
    facts: CaseFacts

    @property
    def refunded_at(self) -> datetime:
        return min(r.refunded_at for r in self.facts.refunds)

    @property
    def order_id(self) -> str:
        return self.facts.refunds[0].order_id


@dataclass(frozen=True)
class SweepResult:
    opened: int = 0
    closed: int = 0
    waiting: int = 0  # refunded, not received, still within the window


@dataclass(frozen=True)
class ClaimCandidate:
    case_key: str
    return_id: str | None
    order_id: str
    refunded_at: datetime
    deadline: datetime
    refund_minor: int
    currency: str
    reason: str
    account: str | None = None  # the vendor account the return belongs to, if known
    route: ClaimRoute = ClaimRoute.VENDOR_DISPUTE
    delivered_at: datetime | None = None  # the return's delivery scan at the warehouse

    def days_left(self, now: datetime) -> int:
        return (self.deadline - now).days


def refunded_cases(store: RfsStore) -> Iterator[RefundedCase]:
    for case_id, case_key in store.refunded_cases():
        events = [event_from_dict(row.body) for row in store.case_events(case_id)]
        facts = fold_case(case_key, events)
        if facts.refunds:
            yield RefundedCase(case_id, case_key, facts)


def sweep_not_received(stores: RfsStores, clock: Clock, window: timedelta) -> SweepResult:
    """Open ``RFS_NOT_RECEIVED`` on refunded cases whose goods are late; close it on those whose
    goods have arrived since. Safe to run as often as wished: it opens one per case."""
    opened = closed = waiting = 0
    with stores() as store:
        now = clock()
        for case in refunded_cases(store):
            open_ones = [
                e
                for e in store.open_exceptions(case.case_id)
                if e.code == ExceptionCode.RFS_NOT_RECEIVED
            ]
            if case.facts.any_received:
                for record in open_ones:
                    store.close_exception(
                        record.id, "resolved", now, "returnbridge", "received", "goods received"
                    )
                    closed += 1
                continue
            due = case.refunded_at + window
            if now < due:
                waiting += 1
                continue
            if open_ones:
                continue
            store.add_exception(
                ExceptionCode.RFS_NOT_RECEIVED,
                _not_received_message(case, window, now),
                json.dumps(
                    {
                        "order_id": case.order_id,
                        "refunded_at": case.refunded_at.isoformat(),
                        "due": due.isoformat(),
                        "return_id": case.facts.return_id,
                        "refunds": [
                            {
                                "asin": r.sku,
                                "quantity": r.quantity,
                                "amount_minor": r.amount.amount,
                                "currency": r.amount.currency,
                            }
                            for r in case.facts.refunds
                        ],
                    }
                ),
                now,
                case_id=case.case_id,
            )
            opened += 1
    return SweepResult(opened, closed, waiting)


def _not_received_message(case: RefundedCase, window: timedelta, now: datetime) -> str:
    amount = sum(r.amount.amount for r in case.facts.refunds)
    currency = case.facts.refunds[0].amount.currency
    days = (now - case.refunded_at).days
    return (
        f"Amazon refunded order {case.order_id} at first scan {days} days ago "
        f"({amount / 100:.2f} {currency}) and the goods have not reached the warehouse "
        f"within {window.days} days"
    )


ClaimRules = Callable[[RefundedCase], tuple[str | None, ClaimRule]]
"""The account a refunded case belongs to (None: not known) and its claim rule."""


def claim_rules(accounts: Accounts, warehouses: WarehouseMap) -> ClaimRules:
    """A case's account is the one owning the Amazon warehouse its ZigZag DC restocks into;
    a case whose account is not known gets today's default rule."""

    def rule(case: RefundedCase) -> tuple[str | None, ClaimRule]:
        warehouse = warehouses.dcs.get(case.facts.warehouse or "")
        account = accounts.owner_of(warehouse) if warehouse else None
        if account is None:
            return None, ClaimRule()
        return account.name, account.claims

    return rule


def _no_accounts(case: RefundedCase) -> tuple[str | None, ClaimRule]:
    return None, ClaimRule()


def claim_candidates(
    cases: Sequence[RefundedCase],
    catalog: Catalog,
    mappings: Mappings,
    rules: ClaimRules = _no_accounts,
) -> list[ClaimCandidate]:
    """Refunded returns that came back damaged or as another product, oldest deadline first."""
    found = []
    for case in cases:
        reasons = _claim_reasons(case.facts, catalog, mappings)
        if not reasons:
            continue
        refunded_at = case.refunded_at
        scans = [line.received_at for line in case.facts.lines.values() if line.received_at]
        delivered_at = min(scans) if scans else None
        account, rule = rules(case)
        found.append(
            ClaimCandidate(
                case_key=case.case_key,
                return_id=case.facts.return_id,
                order_id=case.order_id,
                refunded_at=refunded_at,
                deadline=rule.deadline(refunded_at, delivered_at),
                refund_minor=sum(r.amount.amount for r in case.facts.refunds),
                currency=case.facts.refunds[0].amount.currency,
                reason="; ".join(reasons),
                account=account,
                route=rule.route,
                delivered_at=delivered_at,
            )
        )
    return sorted(found, key=lambda c: (c.deadline, c.case_key))


def _claim_reasons(facts: CaseFacts, catalog: Catalog, mappings: Mappings) -> list[str]:
    refunded = set()
    for refund in facts.refunds:
        found = catalog.resolve(refund.sku)
        refunded.add(found.item.sku if found else refund.sku)
    reasons = []
    for line in sorted(facts.lines.values(), key=lambda line: line.line_id):
        if not line.units_received:
            continue
        route = mappings.route_for_grade(line.grade) if line.grade else None
        if route in DAMAGED_ROUTES:
            reasons.append(f"line {line.line_id} graded {line.grade} ({route.value})")
        scanned = catalog.resolve(line.sku) if line.sku else None
        if scanned is not None and scanned.item.sku not in refunded:
            reasons.append(
                f"line {line.line_id} is {scanned.item.sku}, refunded as "
                f"{', '.join(sorted(refunded))} (materially different)"
            )
    return reasons
