"""The pre-go-live audit's rules: the gaps a manual process left, decided from what the files say.

The engine (the same pipeline as in production) has turned the historical exports into returns,
lines, credit expected and journals; these rules compare that with what Amazon's remittances and
the brand's ledger show. Each gap is decided once, in the words of docs/audit.md (gaps 1, 2 and 7
here; 3, 4 and 5 in ``audit_gaps``; how a document names a return in ``audit_matching``):

1. **no credit**: a received return whose lines owe credit (the engine's credit expected) and
   that no remittance credit-note line names, received longer ago than the window;
2. **credit with no physical return**: a remittance credit-note line that names no received
   return (``audit_matching`` says how a line names one);
3. **stranded stock**: units of a sellable grade whose ZigZag disposition does not route to
   restock: another route, a code the mappings do not know, or none within the window;
4. **write-down never journalled**: a write-off journal the engine posts that no ledger line on
   its account, naming its return, carries (only with a ledger);
5. **unmapped codes** ranked by volume (``rank_unmapped``);
6. **RFS with no receipt**: decided by the engine's own RFS sweep, not here;
7. **receipt to credit**: days from a return's first receipt to the first remittance crediting
   it, as a median and a 90th percentile (``percentile``).

Pure: amounts are integers of minor units; the caller passes the facts and the as-of moment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from returnbridge.domain.audit_matching import (
    AmazonRequest,
    Referable,
    ReferenceIndex,
    Resolution,
    Rule,
    choose,
)
from returnbridge.domain.credits import AMOUNT_TOLERANCE

CLOSED = "closed"  # the engine's status of a line whose route, journal and credit are decided


def percentile(values: Sequence[int], percent: int) -> float | None:
    """The ``percent``-th percentile, interpolated between the closest ranks, as Excel's
    PERCENTILE.INC (and ``statistics.quantiles(method="inclusive")``) compute it; the 50th is
    the median. None when there are no values."""
    if not 0 <= percent <= 100:
        raise ValueError(f"a percentile is from 0 to 100, not {percent}")
    if not values:
        return None
    ordered = sorted(values)
    low, rest = divmod((len(ordered) - 1) * percent, 100)
    high = min(low + 1, len(ordered) - 1)
    return (ordered[low] * (100 - rest) + ordered[high] * rest) / 100


def due(since: datetime | None, as_of: datetime, window: timedelta) -> bool:
    """Whether something that started at ``since`` has had its whole window by ``as_of``."""
    return since is not None and since + window <= as_of


@dataclass(frozen=True)
class AuditLine:
    """A product line of a return as the engine left it, with the catalog's view of its SKU."""

    line_id: str
    units: int  # received
    status: str  # the engine's line status (closed, exception, graded, ...)
    sku_scanned: str | None = None
    sku: str | None = None  # canonical, when the catalog knows the scanned form
    asin: str | None = None
    grade: str | None = None
    disposition: str | None = None
    credit: int = 0  # the engine's credit expected, minor units
    currency: str | None = None  # of the credit and the unit cost
    unit_cost: int | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class AuditReturn:
    """A return case: ZigZag's return, or a provisional one an Amazon RFS refund opened."""

    case_id: int
    reference: str  # the return id, else the case key
    status: str
    return_id: str | None = None
    order_ref: str | None = None
    rma_id: str | None = None
    lines: tuple[AuditLine, ...] = ()

    @property
    def received(self) -> bool:
        return any(line.units > 0 for line in self.lines)

    @property
    def received_at(self) -> datetime | None:
        dates = [x.received_at for x in self.lines if x.units > 0 and x.received_at]
        return min(dates, default=None)

    @property
    def complete(self) -> bool:
        """Every received line's credit is decided (closed), so the expected total is whole."""
        return all(x.status == CLOSED for x in self.lines if x.units > 0)

    @property
    def received_lines(self) -> int:
        return sum(1 for x in self.lines if x.units > 0)

    def expected(self) -> dict[str, int]:
        owed: dict[str, int] = defaultdict(int)
        for line in self.lines:
            if line.credit and line.currency:
                owed[line.currency] += line.credit
        return dict(owed)

    def referable(self) -> Referable:
        asins = frozenset(x.asin.upper() for x in self.lines if x.asin)
        return Referable(self.case_id, self.return_id, self.order_ref, self.rma_id, asins)


@dataclass(frozen=True)
class CreditNote:
    """A remittance line of type credit note: Amazon took ``amount`` back for a credit."""

    payment_id: str
    line_no: int
    document_number: str
    description: str
    amount: int  # the credit's value: minus the line's signed amount
    currency: str
    paid_at: datetime


@dataclass(frozen=True)
class CreditMatch:
    credit: CreditNote
    resolution: Resolution
    case_id: int | None  # the received return it was matched to, or None: a gap 2
    why: str


def by_receipt(ret: AuditReturn) -> tuple[bool, float, int]:
    at = ret.received_at
    return (at is None, at.timestamp() if at else 0.0, ret.case_id)


def _named(resolution: Resolution, returns: dict[int, AuditReturn]) -> str:
    found = [returns[c] for c in resolution.cases if c in returns]
    words = []
    for ret in found:
        if ret.status == "provisional":
            words.append(f"order {ret.order_ref}: refunded at first scan, goods never received")
        elif ret.status == "cancelled":
            words.append(f"return {ret.reference}: cancelled, never received")
        else:
            words.append(f"return {ret.reference}: {ret.status.replace('_', ' ')}, never received")
    return "; ".join(words)


def match_credits(
    returns: Sequence[AuditReturn],
    credits: Sequence[CreditNote],
    requests: Iterable[AmazonRequest] = (),
    tolerance: int = AMOUNT_TOLERANCE,
) -> list[CreditMatch]:
    """Each credit-note line matched to the received return it names, or to none (and why).
    Lines are taken by payment date, payment and line number, so where a text names several
    received returns (an order id), the choice is the same on every run (``choose``)."""
    by_id = {r.case_id: r for r in returns}
    index = ReferenceIndex([r.referable() for r in returns], requests)
    order = sorted(returns, key=by_receipt)
    rank = {r.case_id: n for n, r in enumerate(order)}
    outstanding: dict[tuple[int, str], int] = {
        (r.case_id, cur): amount for r in returns for cur, amount in r.expected().items()
    }
    matched: set[int] = set()
    found: list[CreditMatch] = []
    for credit in sorted(credits, key=lambda c: (c.paid_at, c.payment_id, c.line_no)):
        resolution = index.resolve(credit.document_number, credit.description)
        received = sorted((c for c in resolution.cases if by_id[c].received), key=lambda c: rank[c])
        if not received:
            if resolution.rule is Rule.NONE:
                why = "names no return id, RMA id or order id found in the files"
            elif not resolution.found:
                why = f"names {resolution.named}, but no return of that order holds that ASIN"
            else:
                why = f"names {_named(resolution, by_id)}"
            found.append(CreditMatch(credit, resolution, None, why))
            continue
        left = {c: outstanding.get((c, credit.currency), 0) for c in received}
        case = choose(received, credit.amount, left, matched, tolerance)
        outstanding[(case, credit.currency)] = left[case] - credit.amount
        matched.add(case)
        found.append(
            CreditMatch(credit, resolution, case, f"{resolution.rule.value} {resolution.named}")
        )
    return found


class Standing(StrEnum):
    """Where a received return stands against Amazon's credits."""

    CREDITED = "credited"  # within the tolerance of what it owes
    OTHER_AMOUNT = "credited at another amount"
    NOT_COMPARED = "credited; amount not compared (lines held)"
    NO_CREDIT = "no credit"  # gap 1
    NOT_YET_DUE = "no credit yet (within the window)"
    NOTHING_OWED = "no credit owed yet (no line closed)"


@dataclass(frozen=True)
class ReturnCredit:
    ret: AuditReturn
    expected: dict[str, int]
    credited: dict[str, int]
    credits: tuple[CreditNote, ...]
    standing: Standing

    @property
    def first_paid(self) -> datetime | None:
        return min((c.paid_at for c in self.credits), default=None)

    @property
    def days_to_credit(self) -> int | None:
        """Calendar days (UTC) from the first receipt to the first remittance crediting it."""
        received, paid = self.ret.received_at, self.first_paid
        if received is None or paid is None:
            return None
        return (paid.date() - received.date()).days


def credit_standings(
    returns: Sequence[AuditReturn],
    matches: Sequence[CreditMatch],
    as_of: datetime,
    window: timedelta,
    tolerance: int = AMOUNT_TOLERANCE,
) -> list[ReturnCredit]:
    """One row per received return: what it owes, what was credited, and its standing. Amounts
    are compared only for a return whose every received line is closed, within ``tolerance``
    per received line and currency."""
    credits: dict[int, list[CreditNote]] = defaultdict(list)
    for match in matches:
        if match.case_id is not None:
            credits[match.case_id].append(match.credit)
    rows = []
    for ret in sorted((r for r in returns if r.received), key=lambda r: r.reference):
        notes = tuple(credits.get(ret.case_id, ()))
        expected = ret.expected()
        credited: dict[str, int] = defaultdict(int)
        for note in notes:
            credited[note.currency] += note.amount
        if notes:
            allowed = tolerance * max(ret.received_lines, 1)
            differs = any(
                abs(expected.get(c, 0) - credited.get(c, 0)) > allowed
                for c in set(expected) | set(credited)
            )
            if not ret.complete:
                standing = Standing.NOT_COMPARED
            else:
                standing = Standing.OTHER_AMOUNT if differs else Standing.CREDITED
        elif not any(v > 0 for v in expected.values()):
            standing = Standing.NOTHING_OWED
        elif due(ret.received_at, as_of, window):
            standing = Standing.NO_CREDIT
        else:
            standing = Standing.NOT_YET_DUE
        rows.append(ReturnCredit(ret, expected, dict(credited), notes, standing))
    return rows
