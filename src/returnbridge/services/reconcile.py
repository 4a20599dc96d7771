"""Conservation invariants: every unit and every posting accounted for, every event once.

``check`` asks a ``LedgerAudit`` (the store's read side) for breaches of each invariant and
names every one it finds. An empty list means the books hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Invariant(StrEnum):
    UNITS_CONSERVED = "UNITS_CONSERVED"
    STOCK_MATCHES_RESTOCKED = "STOCK_MATCHES_RESTOCKED"
    JOURNALS_BALANCED = "JOURNALS_BALANCED"
    EVENTS_APPLIED_ONCE = "EVENTS_APPLIED_ONCE"
    OUTBOX_COMPLETE = "OUTBOX_COMPLETE"
    CREDITS_ACCOUNTED = "CREDITS_ACCOUNTED"


INVARIANT_MEANING = {
    Invariant.UNITS_CONSERVED: "units received = restocked + written off + liquidated + "
    "refurbished + returned to vendor + in exception + pending, on every line",
    Invariant.STOCK_MATCHES_RESTOCKED: "the stock ledger holds exactly the restocked units of "
    "every line",
    Invariant.JOURNALS_BALANCED: "every journal entry's debits equal its credits",
    Invariant.EVENTS_APPLIED_ONCE: "every processed event was applied to exactly one case, once",
    Invariant.OUTBOX_COMPLETE: (
        "every stock movement, journal entry and credit movement has its outbox message"
    ),
    Invariant.CREDITS_ACCOUNTED: "per currency and on every line, credit expected = credited + "
    "pending + disputed (docs/finance.md)",
}


@dataclass(frozen=True)
class Breach:
    invariant: Invariant
    detail: str


class LedgerAudit(Protocol):
    """The read-side queries the invariants need; each returns one description per breach."""

    def unconserved_lines(self) -> list[str]: ...
    def stock_mismatches(self) -> list[str]: ...
    def unbalanced_journals(self) -> list[str]: ...
    def misapplied_events(self) -> list[str]: ...
    def missing_outbox_messages(self) -> list[str]: ...
    def unaccounted_credits(self) -> list[str]: ...


def check(audit: LedgerAudit) -> list[Breach]:
    found: list[Breach] = []
    for invariant, query in (
        (Invariant.UNITS_CONSERVED, audit.unconserved_lines),
        (Invariant.STOCK_MATCHES_RESTOCKED, audit.stock_mismatches),
        (Invariant.JOURNALS_BALANCED, audit.unbalanced_journals),
        (Invariant.EVENTS_APPLIED_ONCE, audit.misapplied_events),
        (Invariant.OUTBOX_COMPLETE, audit.missing_outbox_messages),
        (Invariant.CREDITS_ACCOUNTED, audit.unaccounted_credits),
    ):
        found.extend(Breach(invariant, detail) for detail in query())
    return found
