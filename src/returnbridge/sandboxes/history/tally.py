"""What a planned history holds: the gaps planted in it, and the decoys that only look like gaps.

Counted from the plan itself (its roles and lines), not from the files, so the audit that reads
the files is checked against an independent count.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from returnbridge.sandboxes.history.plan import (
    AS_OF,
    HOLD,
    KIND_ORDER,
    WINDOW_DAYS,
    History,
    Line,
    Return,
    payment_date,
)
from returnbridge.sandboxes.zigzag.generator import MAPPED_REASONS


def _value(lines: list[Line]) -> int:
    return sum(x.value for x in lines)


def _unmapped(returns: list[Return]) -> list[dict[str, Any]]:
    """The unmapped codes as the audit must rank them: most lines, then most units."""
    groups: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for ret in returns:
        for line in ret.lines:
            found = []
            if ret.role == "unknown_sku":
                found.append(("SKU", line.scanned, line.scanned.upper()))
            if line.reason not in MAPPED_REASONS:
                found.append(("reason", str(line.reason), str(line.reason)))
            if line.disposition == HOLD:
                found.append(("disposition", HOLD, HOLD))
            for kind, code, key in found:
                groups.setdefault((kind, key), []).append((code, line.quantity))
    ranked = [
        {
            "kind": kind,
            "code": min(c for c, _ in uses),
            "lines": len(uses),
            "units": sum(u for _, u in uses),
        }
        for (kind, _), uses in groups.items()
    ]
    return sorted(
        ranked, key=lambda c: (-c["lines"], -c["units"], KIND_ORDER.index(c["kind"]), c["code"])
    )


def _gbp(amount: int) -> dict[str, int]:
    return {"GBP": amount}  # every planted amount is in GBP, the catalog's currency


def tally(history: History) -> None:
    """Count what was planted, and what only looks like a gap."""
    returns = history.returns
    moment = AS_OF + timedelta(days=1)  # the end of the as-of day
    window = timedelta(days=WINDOW_DAYS)

    def role(*names: str) -> list[Return]:
        return [r for r in returns if r.role in names]

    no_credit = role("no_credit")
    stranded = [
        x for r in role("stranded_route", "stranded_hold", "stranded_missing") for x in r.lines
    ]
    missing = [x for r in role("write_down_missing") for x in r.lines]
    rfs = role("rfs_missing", "rfs_credited")
    orphans = [c for _, c in history.orphan_credits]
    history.planted = {
        "no_credit_returns": len(no_credit),
        "no_credit_lines": sum(len(r.lines) for r in no_credit),
        "credit_without_return": len(orphans),
        "stranded_lines": len(stranded),
        "stranded_units": sum(x.quantity for x in stranded),
        "write_downs_not_journalled": len(missing),
        "unmapped_codes": 0,
        "rfs_without_receipt": len(rfs),
        "credited_at_another_amount": len(role("other_amount")),
        "write_downs_at_another_amount": len(role("write_down_other")),
        "unreadable_rows": 1,
    }
    history.amounts = {
        "no_credit": _gbp(sum(r.owed for r in no_credit)),
        "credit_without_return": _gbp(sum(c.amount for c in orphans)),
        "stranded_value": _gbp(_value(stranded)),
        "write_downs_not_journalled": _gbp(_value(missing)),
        "rfs_without_receipt": _gbp(sum(2 * _value(r.lines) for r in rfs)),
    }
    history.unmapped = _unmapped(returns)
    history.planted["unmapped_codes"] = len(history.unmapped)
    waiting = [
        r
        for r in returns
        if r.received_at
        and not r.credits
        and r.role != "no_credit"
        and r.complete
        and r.received_at + window > moment
    ]
    history.decoys = {
        "credit_within_tolerance": len(role("tolerance")),
        "credit_split": len(role("split")),
        "credit_not_yet_due": len(waiting),
        "restock_not_yet_due": len(role("restock_waiting")),
        "rfs_not_yet_due": len(role("rfs_waiting")),
    }
    history.days_to_credit = [
        (payment_date(min(c.week for c in r.credits)).date() - r.received_at.date()).days
        for r in returns
        if r.received_at and r.credits
    ]
