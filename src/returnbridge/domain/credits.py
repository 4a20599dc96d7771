"""Returns credit, line by line: what a return line owes Amazon, and where that money stands.

The ledger (credit movements) says what each closed return line owes Amazon in credit: the
**credit expected**, which follows the units the warehouse received. The outbox messages that
carry it to Amazon, Amazon's answers and Vendor Central's remittances say where it stands. Every
minor unit of the credit expected is in exactly one place:

- **credited**: cleared in a remittance (Amazon took the credit note's money back). A credit
  note Amazon *accepted* (transaction Success, outbox status ``sent``) but no payment has yet
  taken back is not credited: it is pending, awaiting remittance;
- **pending**: not cleared yet, for a cause: not sent yet, sent and awaiting Amazon's answer,
  or accepted by Amazon and awaiting a remittance;
- **disputed**: Amazon rejected the credit note, or a remittance deducted from it.

So ``expected = credited + pending + disputed`` holds line by line when the ledger and the
outbox agree; ``money_breaches`` names every line and currency where it does not. Credit
Amazon holds *beyond* what a line owes (a line corrected after its credit note went out, or a
remittance taking back more than the note) is **over-credited**: reported next to the identity,
not inside it, because it is not part of the credit expected.

Pure: amounts are integers of minor units; the caller passes the facts and the time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

AMOUNT_TOLERANCE = 1
"""Minor units a line's figures may differ by and still match (Amazon's rounding of a note)."""


class CreditState(StrEnum):
    MATCHED = "matched"  # the credit expected cleared, within the tolerance
    PARTIALLY_MATCHED = "partially_matched"  # part cleared, the rest pending
    UNMATCHED = "unmatched"  # nothing cleared yet
    OVER_CREDITED = "over_credited"  # Amazon holds more than the line owes
    DISPUTED = "disputed"  # rejected by Amazon, or deducted in a remittance


class PendingCause(StrEnum):
    NOT_SENT = "not_sent"  # no credit note sent to Amazon yet
    AWAITING_AMAZON = "awaiting_amazon"  # sent, Amazon has not answered
    AWAITING_REMITTANCE = "awaiting_remittance"  # accepted by Amazon, not in a payment yet
    DISPUTED = "disputed"  # rejected, or deducted


AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7", 0, 7),
    ("8-30", 8, 30),
    ("31-60", 31, 60),
    ("61+", 61, None),
)


@dataclass(frozen=True)
class CreditMessage:
    """One ``amazon.credit_note`` outbox message of a line: a signed amount in minor units."""

    amount: int
    status: str  # pending | sent | rejected | netted | overstated | agreed
    document: str | None = None  # the credit-note number, once prepared
    submitted: bool = False  # in a submission already sent to Amazon (awaiting its answer)


@dataclass(frozen=True)
class Remittance:
    """A remittance line that takes back a credit note: ``amount`` signed, as Amazon shows it."""

    payment_id: str
    document_number: str
    amount: int
    deductions: int = 0


@dataclass(frozen=True)
class LineCredit:
    """The facts of one return line that owes (or owed) credit, in one currency."""

    line_ref: int
    case_id: int
    reference: str  # the return id (or case key)
    line_id: str
    sku: str
    currency: str
    expected: int  # the ledger: net of the line's credit movements, minor units
    expected_units: int
    messages: tuple[CreditMessage, ...] = ()
    returned_at: datetime | None = None
    order_ref: str | None = None
    asin: str | None = None
    rma_id: str | None = None


@dataclass(frozen=True)
class ReturnRequest:
    request_id: str
    order_id: str
    asin: str
    quantity_requested: int
    quantity_approved: int
    rma_id: str | None = None


@dataclass(frozen=True)
class CreditRow:
    """Where one line's credit stands. Every line that owes credit has one, whatever its state."""

    line: LineCredit
    credited: int
    pending: int
    disputed: int
    over_credited: int
    state: CreditState
    causes: dict[PendingCause, int] = field(default_factory=dict)
    documents: tuple[str, ...] = ()
    payments: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()  # Amazon return requests matched by order + ASIN (+ RMA)
    quantity_approved: int | None = None

    @property
    def accounted(self) -> int:
        return self.credited + self.pending + self.disputed


@dataclass(frozen=True)
class OverReturn:
    """More units received for an order and ASIN than Amazon approved in its return requests."""

    order_id: str
    asin: str
    received: int
    approved: int
    requested: int
    requests: tuple[str, ...]
    lines: tuple[LineCredit, ...]

    @property
    def message(self) -> str:
        return (
            f"order {self.order_id} ASIN {self.asin}: {self.received} unit(s) received but "
            f"Amazon approved {self.approved} of {self.requested} requested in return "
            f"request(s) {', '.join(self.requests)}; credit expected follows the units received"
        )


_Key = tuple[int, str]  # (line_ref, currency)


def _allocate(total: int, shares: Sequence[tuple[_Key, int]]) -> dict[_Key, int]:
    """Split ``total`` over (key, share) in order, each up to its share; the rest to the last."""
    given: dict[_Key, int] = {}
    left = total
    for key, share in shares:
        take = min(left, max(share, 0))
        given[key] = take
        left -= take
    if shares and left:
        last = shares[-1][0]
        given[last] = given.get(last, 0) + left
    return given


def credit_rows(
    lines: Iterable[LineCredit],
    remittances: Iterable[Remittance],
    requests: Iterable[ReturnRequest] = (),
    tolerance: int = AMOUNT_TOLERANCE,
) -> list[CreditRow]:
    """One row per line, in line order: the credit expected split into credited, pending and
    disputed, the state, and the Amazon documents matched to it."""
    lines = sorted(lines, key=lambda x: (x.line_ref, x.currency))
    cleared: dict[_Key, int] = defaultdict(int)
    deducted: dict[_Key, int] = defaultdict(int)
    payments: dict[_Key, set[str]] = defaultdict(set)
    by_document: dict[str, list[Remittance]] = defaultdict(list)
    for remittance in remittances:
        by_document[remittance.document_number].append(remittance)
    holders: dict[str, list[LineCredit]] = defaultdict(list)
    for line in lines:
        for number in sorted({m.document for m in line.messages if m.document}):
            holders[number].append(line)
    for number, found in sorted(by_document.items()):
        shares = _document_shares(holders.get(number, []), number)
        if not shares:
            continue  # a credit note this database never issued: not a line's money
        back = sum(-r.amount for r in found)
        deductions = sum(r.deductions for r in found)
        given = _allocate(back - deductions, shares)
        for key, amount in given.items():
            cleared[key] += amount
        # Deductions come out of what the cleared money left of each line's share, so a line
        # already cleared in full is not charged a deduction it cannot carry.
        left = [(key, share - given.get(key, 0)) for key, share in shares]
        for key, amount in _allocate(deductions, left).items():
            deducted[key] += amount
        for key, _ in shares:
            payments[key] |= {r.payment_id for r in found}
    matched = _match_requests(lines, requests)
    rows = []
    for line in lines:
        key = (line.line_ref, line.currency)
        found_requests = matched.get(key, ())
        rows.append(
            _row(
                line,
                cleared[key],
                deducted[key],
                tuple(sorted(payments[key])),
                tuple(r.request_id for r in found_requests),
                sum(r.quantity_approved for r in found_requests) if found_requests else None,
                tolerance,
            )
        )
    return rows


def _document_shares(lines: Sequence[LineCredit], number: str) -> list[tuple[_Key, int]]:
    """Each line's part of a credit note: what Amazon accepted of it, else what was sent."""
    accepted = [(x, _sum(x, "sent", number)) for x in lines]
    shares = [(x, a) for x, a in accepted if a > 0] or [
        (x, sum(m.amount for m in x.messages if m.document == number)) for x in lines
    ]
    return [((x.line_ref, x.currency), share) for x, share in shares]


def _sum(line: LineCredit, status: str, document: str | None = None) -> int:
    return sum(
        m.amount
        for m in line.messages
        if m.status == status and (document is None or m.document == document)
    )


def _row(
    line: LineCredit,
    cleared: int,
    deducted: int,
    payments: tuple[str, ...],
    requests: tuple[str, ...],
    approved: int | None,
    tolerance: int,
) -> CreditRow:
    accepted = _sum(line, "sent") + _sum(line, "overstated") + _sum(line, "agreed")
    not_sent = sum(
        m.amount for m in line.messages if m.status == "pending" and not m.submitted
    ) + _sum(line, "netted")
    awaiting_amazon = sum(m.amount for m in line.messages if m.status == "pending" and m.submitted)
    credited = max(0, min(cleared, accepted))
    deduction = min(deducted, max(0, accepted - credited))
    awaiting_remittance = accepted - credited - deduction
    disputed = _sum(line, "rejected") + deduction
    pending = not_sent + awaiting_amazon + awaiting_remittance
    over = max(0, -_sum(line, "overstated"), cleared - accepted)
    if over > tolerance:
        state = CreditState.OVER_CREDITED
    elif disputed > tolerance:
        state = CreditState.DISPUTED
    elif abs(line.expected - credited) <= tolerance:
        state = CreditState.MATCHED
    elif credited > tolerance:
        state = CreditState.PARTIALLY_MATCHED
    else:
        state = CreditState.UNMATCHED
    causes = {
        PendingCause.NOT_SENT: not_sent,
        PendingCause.AWAITING_AMAZON: awaiting_amazon,
        PendingCause.AWAITING_REMITTANCE: awaiting_remittance,
        PendingCause.DISPUTED: disputed,
    }
    documents = tuple(sorted({m.document for m in line.messages if m.document}))
    return CreditRow(
        line,
        credited,
        pending,
        disputed,
        over,
        state,
        {k: v for k, v in causes.items() if v},
        documents,
        payments,
        requests,
        approved,
    )


def _match_requests(
    lines: Sequence[LineCredit], requests: Iterable[ReturnRequest]
) -> dict[_Key, tuple[ReturnRequest, ...]]:
    """Amazon return requests per line: same order id and ASIN; where both carry an RMA, only
    the requests with the line's RMA."""
    by_order: dict[tuple[str, str], list[ReturnRequest]] = defaultdict(list)
    for request in requests:
        by_order[(request.order_id, request.asin.upper())].append(request)
    found: dict[_Key, tuple[ReturnRequest, ...]] = {}
    for line in lines:
        if not line.order_ref or not line.asin:
            continue
        candidates = by_order.get((line.order_ref, line.asin.upper()), [])
        if line.rma_id and any(r.rma_id == line.rma_id for r in candidates):
            candidates = [r for r in candidates if r.rma_id == line.rma_id]
        if candidates:
            found[(line.line_ref, line.currency)] = tuple(
                sorted(candidates, key=lambda r: r.request_id)
            )
    return found


def over_returns(
    lines: Iterable[LineCredit], requests: Iterable[ReturnRequest]
) -> list[OverReturn]:
    """Orders and ASINs whose received units (across all their return lines) exceed what
    Amazon approved in the return requests for them. Without a request there is nothing to
    compare: no finding."""
    by_key: dict[tuple[str, str], list[LineCredit]] = defaultdict(list)
    for line in lines:
        if line.order_ref and line.asin and line.expected_units > 0:
            by_key[(line.order_ref, line.asin.upper())].append(line)
    asked: dict[tuple[str, str], list[ReturnRequest]] = defaultdict(list)
    for request in requests:
        asked[(request.order_id, request.asin.upper())].append(request)
    found = []
    for (order_id, asin), group in sorted(by_key.items()):
        approved_by = asked.get((order_id, asin))
        if not approved_by:
            continue
        received = sum(x.expected_units for x in group)
        approved = sum(r.quantity_approved for r in approved_by)
        if received > approved:
            found.append(
                OverReturn(
                    order_id,
                    asin,
                    received,
                    approved,
                    sum(r.quantity_requested for r in approved_by),
                    tuple(sorted(r.request_id for r in approved_by)),
                    tuple(group),
                )
            )
    return found


def age_bucket(days: int) -> str:
    for name, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return name
    return AGE_BUCKETS[0][0]  # a date in the future (clock skew) counts as today


def ageing(rows: Iterable[CreditRow], now: datetime) -> dict[str, dict[str, dict[str, int]]]:
    """Money not yet cleared (pending and disputed) per currency, cause and age bucket, the age
    counted from the goods' return to the warehouse. Every cause and bucket is present."""
    table: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        days = (now - row.line.returned_at).days if row.line.returned_at else 0
        bucket = age_bucket(days)
        causes = table.setdefault(
            row.line.currency,
            {c.value: {name: 0 for name, _, _ in AGE_BUCKETS} for c in PendingCause},
        )
        for cause, amount in row.causes.items():
            if amount > 0:
                causes[cause.value][bucket] += amount
    return table


def money_breaches(
    rows: Iterable[CreditRow], ledger_totals: dict[str, int], tolerance: int = AMOUNT_TOLERANCE
) -> list[str]:
    """Every line, and every currency, where credit expected != credited + pending + disputed,
    or a part is negative. ``ledger_totals`` is the credit expected per currency, summed from the
    ledger on its own, so a line missing from ``rows`` is caught too."""
    found: list[str] = []
    totals: dict[str, int] = defaultdict(int)
    accounted: dict[str, int] = defaultdict(int)
    count: dict[str, int] = defaultdict(int)
    for row in rows:
        line = row.line
        totals[line.currency] += line.expected
        accounted[line.currency] += row.accounted
        count[line.currency] += 1
        parts = (row.credited, row.pending, row.disputed)
        if abs(line.expected - row.accounted) > tolerance or min(parts) < -tolerance:
            found.append(
                f"return {line.reference} line {line.line_id} ({line.currency}): credit expected "
                f"{line.expected} but credited {row.credited} + pending {row.pending} + "
                f"disputed {row.disputed} = {row.accounted}"
            )
    for currency in sorted(set(ledger_totals) | set(totals)):
        ledger = ledger_totals.get(currency, 0)
        allowed = tolerance * max(count[currency], 1)
        if abs(ledger - totals[currency]) > allowed:
            found.append(
                f"{currency}: the ledger owes {ledger} in credit but the credit rows expect "
                f"{totals[currency]}"
            )
        if abs(ledger - accounted[currency]) > allowed:
            found.append(
                f"{currency}: credit expected {ledger} != credited + pending + disputed "
                f"{accounted[currency]}"
            )
    return found
