"""The pure credit rules (domain/credits.py), without a database."""

from __future__ import annotations

from returnbridge.domain.credits import (
    CreditMessage,
    CreditState,
    LineCredit,
    Remittance,
    age_bucket,
    credit_rows,
    money_breaches,
)


def line(ref: int, expected: int, *messages: CreditMessage) -> LineCredit:
    return LineCredit(ref, 1, "R1", str(ref), "SKU", "GBP", expected, 1, messages)


def test_age_buckets_have_inclusive_edges() -> None:
    assert [age_bucket(d) for d in (0, 7, 8, 30, 31, 60, 61, -1)] == [
        "0-7",
        "0-7",
        "8-30",
        "8-30",
        "31-60",
        "31-60",
        "61+",
        "0-7",
    ]


def test_one_remittance_of_a_two_line_note_clears_each_line_up_to_its_share() -> None:
    lines = [
        line(1, 2000, CreditMessage(2000, "sent", "RBCN-1")),
        line(2, 3000, CreditMessage(3000, "sent", "RBCN-1")),
    ]
    rows = credit_rows(lines, [Remittance("P1", "RBCN-1", -4000)])
    assert [(r.credited, r.pending, r.state) for r in rows] == [
        (2000, 0, CreditState.MATCHED),
        (2000, 1000, CreditState.PARTIALLY_MATCHED),
    ]


def test_a_deduction_on_a_two_line_note_is_disputed_on_the_line_it_was_not_cleared_on() -> None:
    lines = [
        line(1, 2000, CreditMessage(2000, "sent", "RBCN-1")),
        line(2, 3000, CreditMessage(3000, "sent", "RBCN-1")),
    ]
    rows = credit_rows(lines, [Remittance("P1", "RBCN-1", -5000, deductions=1208)])
    assert [(r.credited, r.pending, r.disputed, r.state) for r in rows] == [
        (2000, 0, 0, CreditState.MATCHED),
        (1792, 0, 1208, CreditState.DISPUTED),
    ]
    assert sum(r.disputed for r in rows) == 1208


def test_a_difference_within_the_tolerance_still_matches() -> None:
    (row,) = credit_rows(
        [line(1, 2000, CreditMessage(2000, "sent", "RBCN-1"))],
        [Remittance("P1", "RBCN-1", -1999)],
    )
    assert row.state is CreditState.MATCHED and money_breaches([row], {"GBP": 2000}) == []


def test_a_line_missing_from_the_rows_is_a_named_breach() -> None:
    (row,) = credit_rows([line(1, 2000, CreditMessage(2000, "pending"))], [])
    assert money_breaches([row], {"GBP": 5000}) == [
        "GBP: the ledger owes 5000 in credit but the credit rows expect 2000",
        "GBP: credit expected 5000 != credited + pending + disputed 2000",
    ]


def test_a_correction_after_the_note_went_out_is_over_credited() -> None:
    (row,) = credit_rows(
        [line(1, 2000, CreditMessage(4000, "sent", "RBCN-1"), CreditMessage(-2000, "overstated"))],
        [],
    )
    assert (row.pending, row.over_credited, row.state) == (2000, 2000, CreditState.OVER_CREDITED)
