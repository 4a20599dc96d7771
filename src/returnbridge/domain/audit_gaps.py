"""The audit's gaps in stock, the books and the master data: stranded stock (gap 3), write-downs
never journalled (gap 4) and unmapped codes (gap 5). See ``domain/audit.py`` for the others and
docs/audit.md for every rule in words.

Pure: amounts are integers of minor units; the caller passes the facts and the as-of moment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from returnbridge.domain.audit import AuditLine, AuditReturn, by_receipt, due
from returnbridge.domain.audit_matching import AmazonRequest, ReferenceIndex, choose
from returnbridge.domain.catalog import sku_key
from returnbridge.domain.credits import AMOUNT_TOLERANCE
from returnbridge.domain.mappings import Mappings, Route, normalize_code


class StrandedWhy(StrEnum):
    OTHER_ROUTE = "disposition routes elsewhere"
    UNMAPPED = "disposition unknown to the mappings (held)"
    MISSING = "no disposition"


@dataclass(frozen=True)
class StrandedLine:
    ret: AuditReturn
    line: AuditLine
    why: StrandedWhy
    route: str | None = None  # where the disposition routes, when it does

    @property
    def value(self) -> int | None:
        """The units at catalog unit cost; None when the catalog does not know the SKU."""
        cost = self.line.unit_cost
        return None if cost is None else cost * self.line.units


def stranded_stock(
    returns: Iterable[AuditReturn], mappings: Mappings, as_of: datetime, window: timedelta
) -> tuple[list[StrandedLine], list[StrandedLine]]:
    """Received units of a sellable grade never made sellable again, and (second) those without
    a disposition still within the window. A disposition decided is final: it needs no window."""
    stranded: list[StrandedLine] = []
    waiting: list[StrandedLine] = []
    for ret in sorted(returns, key=lambda r: r.reference):
        for line in ret.lines:
            if line.units <= 0 or not line.grade or not mappings.is_sellable(line.grade):
                continue
            if not line.disposition:
                found = StrandedLine(ret, line, StrandedWhy.MISSING)
                (stranded if due(line.received_at, as_of, window) else waiting).append(found)
                continue
            rule = mappings.disposition(line.disposition)
            if rule is None:
                stranded.append(StrandedLine(ret, line, StrandedWhy.UNMAPPED))
            elif rule.route is not Route.RESTOCK:
                stranded.append(StrandedLine(ret, line, StrandedWhy.OTHER_ROUTE, rule.route.value))
    return stranded, waiting


@dataclass(frozen=True)
class WriteDown:
    """A write-off journal the engine posts for a line: the debit on the write-down account."""

    case_id: int
    line_id: str
    sku: str | None
    units: int
    account: str
    amount: int
    currency: str
    entry_key: str


@dataclass(frozen=True)
class LedgerLine:
    """One line of the brand's GL export (docs/audit.md, the ledger file)."""

    row: int
    journal_id: str
    posted_on: date
    account: str
    debit: int
    credit: int
    currency: str
    reference: str = ""
    description: str = ""


class Journalled(StrEnum):
    JOURNALLED = "journalled"
    OTHER_AMOUNT = "journalled at another amount"
    NOT_JOURNALLED = "never journalled"  # gap 4
    NOT_YET_DUE = "not journalled yet (within the window)"
    NOT_ASSESSED = "not assessed (no ledger given)"


@dataclass(frozen=True)
class WriteDownCheck:
    ret: AuditReturn
    write_down: WriteDown
    standing: Journalled
    journalled: int = 0  # net debit of the ledger lines found for its return and account
    journals: tuple[str, ...] = ()


def _account(name: str) -> str:
    return name.strip().upper()


def check_write_downs(
    returns: Sequence[AuditReturn],
    write_downs: Sequence[WriteDown],
    ledger: Sequence[LedgerLine] | None,
    as_of: datetime,
    window: timedelta,
    requests: Iterable[AmazonRequest] = (),
    tolerance: int = AMOUNT_TOLERANCE,
) -> list[WriteDownCheck]:
    """Each write-down against the ledger: the ledger lines on its account (net debit) that name
    its return by the credits' rule are its journal; their total is compared with the return's
    write-downs on that account, within ``tolerance`` per write-down."""
    by_id = {r.case_id: r for r in returns}
    groups: dict[tuple[int, str, str], list[WriteDown]] = defaultdict(list)
    for w in sorted(write_downs, key=lambda w: (w.case_id, w.line_id, w.entry_key)):
        groups[(w.case_id, _account(w.account), w.currency)].append(w)
    if ledger is None:
        return [
            WriteDownCheck(by_id[w.case_id], w, Journalled.NOT_ASSESSED)
            for group in groups.values()
            for w in group
        ]
    index = ReferenceIndex([r.referable() for r in returns], requests)
    accounts = {account for _, account, _ in groups}
    order = {r.case_id: n for n, r in enumerate(sorted(returns, key=by_receipt))}
    posted: dict[tuple[int, str, str], int] = defaultdict(int)
    journals: dict[tuple[int, str, str], list[str]] = defaultdict(list)
    for entry in sorted(ledger, key=lambda x: x.row):
        account = _account(entry.account)
        if account not in accounts or entry.debit == entry.credit:
            continue
        resolution = index.resolve(entry.reference, entry.description)
        cases = sorted(
            (c for c in resolution.cases if (c, account, entry.currency) in groups),
            key=lambda c: order[c],
        )
        if not cases:
            continue  # a journal for something else: not this audit's business
        net = entry.debit - entry.credit
        left = {
            c: sum(w.amount for w in groups[(c, account, entry.currency)])
            - posted[(c, account, entry.currency)]
            for c in cases
        }
        seen = {c for c in cases if (c, account, entry.currency) in posted}
        case = choose(cases, net, left, seen, tolerance)
        posted[(case, account, entry.currency)] += net
        journals[(case, account, entry.currency)].append(entry.journal_id)
    checks = []
    for key, group in groups.items():
        ret = by_id[key[0]]
        if key not in posted:
            late = due(ret.received_at, as_of, window)
            standing = Journalled.NOT_JOURNALLED if late else Journalled.NOT_YET_DUE
        else:
            expected = sum(w.amount for w in group)
            close = abs(posted[key] - expected) <= tolerance * len(group)
            standing = Journalled.JOURNALLED if close else Journalled.OTHER_AMOUNT
        for w in group:
            checks.append(
                WriteDownCheck(
                    ret, w, standing, posted.get(key, 0), tuple(dict.fromkeys(journals[key]))
                )
            )
    return checks


class CodeKind(StrEnum):
    SKU = "SKU"
    REASON = "reason"
    GRADE = "grade"
    DISPOSITION = "disposition"
    CHARGE = "charge type"


@dataclass(frozen=True)
class UnmappedUse:
    """A line the engine held because one of its codes is unknown to the master data."""

    kind: CodeKind
    code: str
    reference: str
    line_id: str
    units: int  # received, else registered


@dataclass(frozen=True)
class UnmappedCode:
    kind: CodeKind
    code: str
    lines: int
    units: int
    returns: int
    examples: tuple[str, ...] = field(default_factory=tuple)


def rank_unmapped(uses: Iterable[UnmappedUse], examples: int = 3) -> list[UnmappedCode]:
    """Each unmapped code once (SKUs compared as the catalog does, without case or separators,
    and shown as first in order; other codes without case or blanks, shown so), most lines
    first, then most units."""
    grouped: dict[tuple[CodeKind, str], list[UnmappedUse]] = defaultdict(list)
    for use in uses:
        key = sku_key(use.code) if use.kind is CodeKind.SKU else normalize_code(use.code)
        grouped[(use.kind, key)].append(use)
    kinds = list(CodeKind)
    ranked = []
    for (kind, key), group in grouped.items():
        lines = {(u.reference, u.line_id): u.units for u in group}
        references = sorted({u.reference for u in group})
        ranked.append(
            UnmappedCode(
                kind,
                min(u.code.strip() for u in group) if kind is CodeKind.SKU else key,
                len(lines),
                sum(lines.values()),
                len(references),
                tuple(references[:examples]),
            )
        )
    return sorted(ranked, key=lambda c: (-c.lines, -c.units, kinds.index(c.kind), c.code))


@dataclass(frozen=True)
class RfsRefund:
    """A refund at first scan, with what the engine's RFS sweep decided about its return."""

    refund_id: str
    case_id: int
    order_id: str
    asin: str
    quantity: int
    amount: int
    currency: str
    refunded_at: datetime
    received: bool  # the goods reached the warehouse (the return has received units)
    flagged: bool  # the sweep holds RFS_NOT_RECEIVED open on its return: gap 6
