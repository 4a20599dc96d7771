"""Journal entries: balanced, immutable, corrected only by reversal."""

from __future__ import annotations

import pytest

from returnbridge.domain.journals import (
    JournalDraft,
    JournalKind,
    Posting,
    account_balances,
    is_balanced,
    transfer,
)
from returnbridge.domain.mappings import GlAccounts
from returnbridge.domain.money import Money

RESTOCK = GlAccounts("1310-INVENTORY-SELLABLE", "1390-RETURNS-IN-TRANSIT")


def restock(amount: int = 2500, memo: str = "restock 2 x CAS-123-BLK-M") -> JournalDraft:
    return transfer(RESTOCK, Money(amount, "GBP"), JournalKind.DISPOSITION, memo)


def test_a_transfer_debits_one_account_and_credits_the_other_with_the_same_amount() -> None:
    entry = restock(2500)
    assert entry.postings == (
        Posting("1310-INVENTORY-SELLABLE", 2500, 0),
        Posting("1390-RETURNS-IN-TRANSIT", 0, 2500),
    )
    assert entry.balanced
    assert (entry.kind, entry.currency, entry.memo) == (
        JournalKind.DISPOSITION,
        "GBP",
        "restock 2 x CAS-123-BLK-M",
    )


@pytest.mark.parametrize("amount", [0, -1, -2500])
def test_a_transfer_of_nothing_or_less_is_refused(amount: int) -> None:
    with pytest.raises(ValueError, match="positive amount"):
        restock(amount)


def test_a_reversal_puts_the_same_amounts_on_the_opposite_sides() -> None:
    entry = restock(2500)
    reversal = entry.reversal("reverse: line re-mapped")
    assert reversal.kind is JournalKind.REVERSAL
    assert reversal.currency == "GBP"
    assert reversal.memo == "reverse: line re-mapped"
    assert reversal.postings == (
        Posting("1310-INVENTORY-SELLABLE", 0, 2500),
        Posting("1390-RETURNS-IN-TRANSIT", 2500, 0),
    )
    assert reversal.balanced


def test_the_signature_ignores_the_memo_and_the_order_of_postings() -> None:
    entry = restock(2500, memo="first wording")
    reordered = JournalDraft(
        entry.kind, entry.currency, tuple(reversed(entry.postings)), "second wording"
    )
    assert reordered.signature == entry.signature
    assert reordered != entry


@pytest.mark.parametrize(
    "other",
    [
        restock(2600),
        transfer(RESTOCK, Money(2500, "EUR"), JournalKind.DISPOSITION, "x"),
        transfer(RESTOCK, Money(2500, "GBP"), JournalKind.CHARGE, "x"),
        restock(2500).reversal("x"),
        transfer(
            GlAccounts("1320", "1390-RETURNS-IN-TRANSIT"),
            Money(2500, "GBP"),
            JournalKind.DISPOSITION,
            "x",
        ),
    ],
    ids=["amount", "currency", "kind", "sides", "account"],
)
def test_the_signature_tells_apart_entries_that_post_differently(other: JournalDraft) -> None:
    assert other.signature != restock(2500).signature


@pytest.mark.parametrize(("debit", "credit"), [(-1, 0), (0, -1), (5, 5), (1, 2)], ids=str)
def test_a_posting_is_a_debit_or_a_credit_never_negative_or_both(debit: int, credit: int) -> None:
    with pytest.raises(ValueError, match="a posting is a debit or a credit"):
        Posting("1310", debit, credit)


def test_a_one_sided_posting_is_accepted() -> None:
    assert Posting("1310", 5, 0).debit == 5
    assert Posting("1390", 0, 5).credit == 5


def test_unequal_debits_and_credits_are_not_balanced() -> None:
    assert not is_balanced([Posting("1310", 500, 0), Posting("1390", 0, 400)])
    assert is_balanced([Posting("1310", 500, 0), Posting("1390", 0, 400), Posting("1391", 0, 100)])
    assert not JournalDraft(JournalKind.CHARGE, "GBP", (Posting("6120", 1, 0),), "x").balanced


def test_the_balances_of_an_entry_show_each_account_by_currency() -> None:
    balances = account_balances(
        [restock(2500), transfer(RESTOCK, Money(700, "EUR"), JournalKind.DISPOSITION, "x")]
    )
    assert balances == {
        ("1310-INVENTORY-SELLABLE", "EUR"): 700,
        ("1310-INVENTORY-SELLABLE", "GBP"): 2500,
        ("1390-RETURNS-IN-TRANSIT", "EUR"): -700,
        ("1390-RETURNS-IN-TRANSIT", "GBP"): -2500,
    }
    assert sum(balances.values()) == 0


def test_an_entry_and_its_reversal_net_every_account_to_zero() -> None:
    entry = restock(2500)
    assert account_balances([entry, entry.reversal("undo")]) == {}
    assert account_balances([entry, entry.reversal("undo"), restock(100)]) == {
        ("1310-INVENTORY-SELLABLE", "GBP"): 100,
        ("1390-RETURNS-IN-TRANSIT", "GBP"): -100,
    }
