"""The pre-go-live audit: the seven gaps a manual process left, from the engine's read model.

The entrypoint runs the production pipeline over the historical exports into a throw-away
database; this use case reads what the engine made of them (``AuditFacts``), adds the brand's
ledger when one is given, and lets the domain decide each gap (``domain/audit.py``,
``domain/audit_gaps.py``). It writes nothing. ``AuditResult.figures`` is the ``audit.json``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from returnbridge.domain.audit import (
    AuditReturn,
    CreditMatch,
    CreditNote,
    ReturnCredit,
    Standing,
    credit_standings,
    match_credits,
    percentile,
)
from returnbridge.domain.audit_gaps import (
    Journalled,
    LedgerLine,
    RfsRefund,
    StrandedLine,
    UnmappedCode,
    UnmappedUse,
    WriteDown,
    WriteDownCheck,
    check_write_downs,
    rank_unmapped,
    stranded_stock,
)
from returnbridge.domain.audit_matching import AmazonRequest
from returnbridge.domain.credits import AMOUNT_TOLERANCE
from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.domain.mappings import Mappings


class AuditRefused(ReturnBridgeError):
    """The audit cannot run as asked (an as-of date before the files end, no facts at all)."""

    code = "audit.refused"


class AuditFacts(Protocol):
    """What the engine made of the historical exports (``store/audit.py``)."""

    def returns(self) -> list[AuditReturn]:
        """Every return case with its product lines, receipts and credit expected."""
        ...

    def credit_notes(self) -> list[CreditNote]:
        """Every remittance line of type credit note."""
        ...

    def return_requests(self) -> list[AmazonRequest]: ...

    def write_downs(self) -> list[WriteDown]:
        """The write-off journals in force (not reversed), one per line."""
        ...

    def unmapped(self) -> list[UnmappedUse]:
        """Open exceptions of the unknown-SKU and unmapped-code kinds, with their code."""
        ...

    def rfs_refunds(self) -> list[RfsRefund]:
        """Every refund at first scan, with its return's receipt and the sweep's flag."""
        ...

    def unreadable(self) -> list[str]:
        """Why each unreadable row (INVALID_EVENT) was refused, naming its file and row."""
        ...


@dataclass(frozen=True)
class AuditSettings:
    as_of: date
    window_days: int = 30  # receipt to credit, to a restock disposition, to a write-down journal
    rfs_window_days: int = 14  # refund at first scan to receipt (the engine's RFS sweep)
    tolerance: int = AMOUNT_TOLERANCE  # minor units per line

    @property
    def moment(self) -> datetime:
        """The end of the as-of day (UTC): every window is measured to it."""
        return datetime.combine(self.as_of + timedelta(days=1), time(), tzinfo=UTC)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


def as_of_date(given: date | None, latest: datetime | None) -> date:
    """The audit's as-of date: the one given, else the latest date in the files. A date before
    the files end is refused: facts after it would still count and make ages negative."""
    if latest is None:
        raise AuditRefused("the files hold no dated fact: nothing to audit")
    end = latest.astimezone(UTC).date()
    if given is None:
        return end
    if given < end:
        raise AuditRefused(
            f"--as-of {given.isoformat()} is before the latest date in the files "
            f"({end.isoformat()}); give files that end by then, or a later date"
        )
    return given


def _sum(items: Iterable[tuple[str | None, int | None]]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for currency, amount in items:
        if currency and amount is not None:
            total[currency] += amount
    return dict(sorted(total.items()))


@dataclass(frozen=True)
class AuditResult:
    settings: AuditSettings
    returns: Sequence[AuditReturn]
    matches: Sequence[CreditMatch]
    standings: Sequence[ReturnCredit]
    stranded: Sequence[StrandedLine]
    stranded_waiting: Sequence[StrandedLine]
    write_downs: Sequence[WriteDownCheck]
    ledger_given: bool
    unmapped: Sequence[UnmappedCode]
    refunds: Sequence[RfsRefund]
    unreadable: Sequence[str]

    def standing(self, *wanted: Standing) -> list[ReturnCredit]:
        return [s for s in self.standings if s.standing in wanted]

    def journalled(self, *wanted: Journalled) -> list[WriteDownCheck]:
        return [w for w in self.write_downs if w.standing in wanted]

    @property
    def no_credit(self) -> list[ReturnCredit]:
        """Gap 1."""
        return self.standing(Standing.NO_CREDIT)

    @property
    def credits_without_return(self) -> list[CreditMatch]:
        """Gap 2."""
        return [m for m in self.matches if m.case_id is None]

    @property
    def rfs_not_received(self) -> list[RfsRefund]:
        """Gap 6."""
        return [r for r in self.refunds if r.flagged and not r.received]

    @property
    def rfs_waiting(self) -> list[RfsRefund]:
        return [r for r in self.refunds if not r.flagged and not r.received]

    @property
    def days_to_credit(self) -> list[int]:
        """Gap 7's sample: one figure per received return a remittance credited."""
        return [d for s in self.standings if (d := s.days_to_credit) is not None]

    def figures(self) -> dict[str, Any]:
        """The audit's figures, as ``audit.json`` holds them (money in minor units)."""
        s = self.settings
        owed = [line for r in self.no_credit for line in r.ret.lines if line.credit > 0]
        gap2 = self.credits_without_return
        gap4 = self.journalled(Journalled.NOT_JOURNALLED)
        other = self.standing(Standing.OTHER_AMOUNT)
        days = self.days_to_credit
        assessed = self.ledger_given
        return {
            "as_of": s.as_of.isoformat(),
            "window_days": s.window_days,
            "rfs_window_days": s.rfs_window_days,
            "tolerance_minor_units_per_line": s.tolerance,
            "ledger_given": assessed,
            "returns": {
                "returns": len(self.returns),
                "received": sum(1 for r in self.returns if r.received),
                "refunded_at_first_scan_only": sum(
                    1 for r in self.returns if r.status == "provisional"
                ),
                "lines": sum(len(r.lines) for r in self.returns),
                "credit_notes": len(self.matches),
                "credit_notes_matched": len(self.matches) - len(gap2),
                "refunds_at_first_scan": len(self.refunds),
            },
            "gaps": {
                "no_credit": {
                    "returns": len(self.no_credit),
                    "lines": len(owed),
                    "amount": _sum((x.currency, x.credit) for x in owed),
                },
                "credit_without_return": {
                    "credit_notes": len(gap2),
                    "amount": _sum((m.credit.currency, m.credit.amount) for m in gap2),
                },
                "stranded_stock": {
                    "lines": len(self.stranded),
                    "units": sum(x.line.units for x in self.stranded),
                    "value": _sum((x.line.currency, x.value) for x in self.stranded),
                    "lines_without_cost": sum(1 for x in self.stranded if x.value is None),
                },
                "write_downs_not_journalled": {
                    "assessed": assessed,
                    "write_downs": len(gap4) if assessed else None,
                    "amount": _sum((w.write_down.currency, w.write_down.amount) for w in gap4)
                    if assessed
                    else None,
                    "write_downs_in_files": len(self.write_downs),
                    "amount_in_files": _sum(
                        (w.write_down.currency, w.write_down.amount) for w in self.write_downs
                    ),
                },
                "unmapped_codes": {
                    "codes": len(self.unmapped),
                    "lines": sum(c.lines for c in self.unmapped),
                    "units": sum(c.units for c in self.unmapped),
                    "ranked": [
                        {"kind": c.kind.value, "code": c.code, "lines": c.lines, "units": c.units}
                        for c in self.unmapped
                    ],
                },
                "rfs_without_receipt": {
                    "refunds": len(self.rfs_not_received),
                    "amount": _sum((r.currency, r.amount) for r in self.rfs_not_received),
                },
                "receipt_to_credit_days": {
                    "returns": len(days),
                    "median": percentile(days, 50),
                    "p90": percentile(days, 90),
                },
            },
            "also": {
                "credited_at_another_amount": {
                    "returns": len(other),
                    "difference": _sum(
                        (c, r.credited.get(c, 0) - r.expected.get(c, 0))
                        for r in other
                        for c in sorted(set(r.credited) | set(r.expected))
                    ),
                },
                "credited_not_compared": len(self.standing(Standing.NOT_COMPARED)),
                "write_downs_at_another_amount": len(self.journalled(Journalled.OTHER_AMOUNT)),
                "not_yet_due": {
                    "credits": len(self.standing(Standing.NOT_YET_DUE)),
                    "restock_dispositions": len(self.stranded_waiting),
                    "rfs_receipts": len(self.rfs_waiting),
                    "write_down_journals": len(self.journalled(Journalled.NOT_YET_DUE)),
                },
                "unreadable_rows": len(self.unreadable),
            },
        }


def run_audit(
    facts: AuditFacts,
    mappings: Mappings,
    ledger: Sequence[LedgerLine] | None,
    settings: AuditSettings,
) -> AuditResult:
    """Decide every gap from the facts; ``ledger`` None means no ledger was given (gap 4 is
    then not assessed, never reported as nil)."""
    returns = facts.returns()
    requests = facts.return_requests()
    moment, window, tolerance = settings.moment, settings.window, settings.tolerance
    matches = match_credits(returns, facts.credit_notes(), requests, tolerance)
    stranded, waiting = stranded_stock(returns, mappings, moment, window)
    write_downs = check_write_downs(
        returns, facts.write_downs(), ledger, moment, window, requests, tolerance
    )
    return AuditResult(
        settings=settings,
        returns=returns,
        matches=matches,
        standings=credit_standings(returns, matches, moment, window, tolerance),
        stranded=stranded,
        stranded_waiting=waiting,
        write_downs=write_downs,
        ledger_given=ledger is not None,
        unmapped=rank_unmapped(facts.unmapped()),
        refunds=facts.rfs_refunds(),
        unreadable=facts.unreadable(),
    )
