"""Double-entry journal entries: balanced, immutable; corrections are reversals."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from returnbridge.domain.mappings import GlAccounts
from returnbridge.domain.money import Money


class JournalKind(StrEnum):
    DISPOSITION = "disposition"
    CHARGE = "charge"
    REVERSAL = "reversal"


@dataclass(frozen=True)
class Posting:
    """One line of a journal entry: an amount on the debit or the credit side of one account."""

    account: str
    debit: int
    credit: int

    def __post_init__(self) -> None:
        if self.debit < 0 or self.credit < 0 or (self.debit and self.credit):
            raise ValueError(f"a posting is a debit or a credit, not {self.debit}/{self.credit}")


@dataclass(frozen=True)
class JournalDraft:
    """A journal entry the pipeline wants to exist, before it is numbered and stored."""

    kind: JournalKind
    currency: str
    postings: tuple[Posting, ...]
    memo: str

    @property
    def balanced(self) -> bool:
        return is_balanced(self.postings)

    @property
    def signature(self) -> tuple[str, str, tuple[Posting, ...]]:
        """What makes two drafts the same posting (the memo is description only)."""
        return (self.kind.value, self.currency, tuple(sorted(self.postings, key=_posting_order)))

    def reversal(self, memo: str) -> JournalDraft:
        """The entry that cancels this one: the same amounts on the opposite sides."""
        flipped = tuple(Posting(p.account, p.credit, p.debit) for p in self.postings)
        return JournalDraft(JournalKind.REVERSAL, self.currency, flipped, memo)


def _posting_order(posting: Posting) -> tuple[str, int, int]:
    return (posting.account, posting.debit, posting.credit)


def transfer(accounts: GlAccounts, amount: Money, kind: JournalKind, memo: str) -> JournalDraft:
    """Debit one account and credit another with the same amount."""
    if amount.amount <= 0:
        raise ValueError(f"a transfer needs a positive amount, got {amount.amount}")
    return JournalDraft(
        kind=kind,
        currency=amount.currency,
        postings=(
            Posting(accounts.debit, amount.amount, 0),
            Posting(accounts.credit, 0, amount.amount),
        ),
        memo=memo,
    )


def is_balanced(postings: tuple[Posting, ...] | list[Posting]) -> bool:
    return sum(p.debit for p in postings) == sum(p.credit for p in postings)


def account_balances(entries: list[JournalDraft]) -> dict[tuple[str, str], int]:
    """Net debit minus credit per (account, currency) over a set of entries."""
    net: dict[tuple[str, str], int] = defaultdict(int)
    for entry in entries:
        for p in entry.postings:
            net[(p.account, entry.currency)] += p.debit - p.credit
    return {k: v for k, v in sorted(net.items()) if v}
