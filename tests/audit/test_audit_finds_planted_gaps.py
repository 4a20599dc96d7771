"""The key test: a history with a seeded set of planted gaps, audited by `returnbridge audit`,
gives every planted gap, gap by gap (counts, amounts, the very items), and no other.

The planted figures are stated literally for the fixed seed, and compared with what the
generator says it planted, so a change to either side shows here.
"""

from __future__ import annotations

import statistics
from typing import Any

from audit_support import Audited, sheet

from returnbridge.domain.audit_matching import Rule

# Seed 11, 200 returns: what `sandbox history` plants (planted.json) ...
PLANTED = {
    "no_credit_returns": 4,
    "no_credit_lines": 5,
    "credit_without_return": 10,
    "stranded_lines": 6,
    "stranded_units": 8,
    "write_downs_not_journalled": 4,
    "unmapped_codes": 6,
    "rfs_without_receipt": 6,
    "credited_at_another_amount": 2,
    "write_downs_at_another_amount": 2,
    "unreadable_rows": 1,
}
AMOUNTS = {
    "no_credit": {"GBP": 39054},
    "credit_without_return": {"GBP": 51118},
    "stranded_value": {"GBP": 29774},
    "write_downs_not_journalled": {"GBP": 10894},
    "rfs_without_receipt": {"GBP": 80864},
}
UNMAPPED = [  # most lines first, then most units
    {"kind": "reason", "code": "42", "lines": 4, "units": 5},
    {"kind": "SKU", "code": "ZZ-60181-UNK", "lines": 3, "units": 3},
    {"kind": "SKU", "code": "ZZ-49641-UNK", "lines": 2, "units": 5},
    {"kind": "disposition", "code": "HOLD", "lines": 2, "units": 4},
    {"kind": "SKU", "code": "ZZ-84565-UNK", "lines": 1, "units": 1},
    {"kind": "reason", "code": "99", "lines": 1, "units": 1},
]
DECOYS = {
    "credit_not_yet_due": 17,
    "credit_split": 2,
    "credit_within_tolerance": 2,
    "restock_not_yet_due": 2,
    "rfs_not_yet_due": 2,
}
DAYS = {"returns": 165, "median": 16.0, "p90": 23.6}


def roles(a: Audited, *names: str) -> list[Any]:
    return [r for r in a.history.returns if r.role in names]


def test_the_history_plants_what_this_test_states(audited: Audited) -> None:
    assert audited.planted["planted"] == PLANTED
    assert audited.planted["amounts"] == AMOUNTS
    assert audited.planted["unmapped"] == UNMAPPED
    assert audited.planted["decoys"] == DECOYS
    assert audited.history.figures() == audited.planted  # the file is the generator's word
    assert audited.figures["as_of"] == audited.planted["as_of"] == "2026-10-12"


def test_gap_1_every_return_with_no_credit_and_no_other(audited: Audited) -> None:
    gap = audited.figures["gaps"]["no_credit"]
    assert gap == {"returns": 4, "lines": 5, "amount": AMOUNTS["no_credit"]}
    planted = {r.return_id for r in roles(audited, "no_credit")}
    rows = sheet(audited.out, "1 No credit")
    assert {row["return"] for row in rows} == planted
    assert len(rows) == PLANTED["no_credit_lines"]


def test_gap_2_every_credit_with_no_physical_return_and_no_other(audited: Audited) -> None:
    gap = audited.figures["gaps"]["credit_without_return"]
    assert gap == {"credit_notes": 10, "amount": AMOUNTS["credit_without_return"]}
    planted = {credit.document for _, credit in audited.history.orphan_credits}
    assert {row["document"] for row in sheet(audited.out, "2 Credit no return")} == planted


def test_gap_3_every_stranded_line_with_its_value_and_no_other(audited: Audited) -> None:
    gap = audited.figures["gaps"]["stranded_stock"]
    assert gap == {
        "lines": 6,
        "units": 8,
        "value": AMOUNTS["stranded_value"],
        "lines_without_cost": 0,
    }
    stranded = roles(audited, "stranded_route", "stranded_hold", "stranded_missing")
    planted = {(r.return_id, line.line_id) for r in stranded for line in r.lines}
    found = {(row["return"], row["line"]) for row in sheet(audited.out, "3 Stranded stock")}
    assert found == planted
    whys = {row["why"].split(" (")[0] for row in sheet(audited.out, "3 Stranded stock")}
    assert whys == {
        "disposition routes elsewhere",
        "disposition unknown to the mappings",
        "no disposition",
    }


def test_gap_4_every_write_down_never_journalled_and_no_other(audited: Audited) -> None:
    gap = audited.figures["gaps"]["write_downs_not_journalled"]
    assert gap["assessed"] is True
    assert (gap["write_downs"], gap["amount"]) == (4, AMOUNTS["write_downs_not_journalled"])
    planted = {r.return_id for r in roles(audited, "write_down_missing")}
    assert {row["return"] for row in sheet(audited.out, "4 Write-downs")} == planted


def test_gap_5_the_unmapped_codes_ranked_by_volume(audited: Audited) -> None:
    gap = audited.figures["gaps"]["unmapped_codes"]
    assert gap["ranked"] == UNMAPPED == audited.history.unmapped
    assert (gap["codes"], gap["lines"], gap["units"]) == (6, 13, 19)
    ranked = sheet(audited.out, "5 Unmapped codes")
    assert [(row["kind"], row["code"]) for row in ranked] == [
        (c["kind"], c["code"]) for c in UNMAPPED
    ]


def test_gap_6_every_refund_at_first_scan_with_no_receipt_and_no_other(audited: Audited) -> None:
    gap = audited.figures["gaps"]["rfs_without_receipt"]
    assert gap == {"refunds": 6, "amount": AMOUNTS["rfs_without_receipt"]}
    planted = {r.order for r in roles(audited, "rfs_missing", "rfs_credited")}
    assert {row["order"] for row in sheet(audited.out, "6 RFS no receipt")} == planted


def test_gap_7_median_and_p90_days_from_receipt_to_credit(audited: Audited) -> None:
    days = audited.history.days_to_credit
    assert audited.figures["gaps"]["receipt_to_credit_days"] == DAYS
    assert DAYS["returns"] == len(days)
    assert DAYS["median"] == statistics.median(days)
    assert DAYS["p90"] == statistics.quantiles(days, n=10, method="inclusive")[8]
    listed = sorted(row["days"] for row in sheet(audited.out, "7 Receipt to credit"))
    assert listed == sorted(days)


def test_what_only_looks_like_a_gap_is_not_counted_as_one(audited: Audited) -> None:
    also = audited.figures["also"]
    assert also["credited_at_another_amount"]["returns"] == PLANTED["credited_at_another_amount"]
    assert also["write_downs_at_another_amount"] == PLANTED["write_downs_at_another_amount"]
    assert also["not_yet_due"] == {
        "credits": DECOYS["credit_not_yet_due"],
        "restock_dispositions": DECOYS["restock_not_yet_due"],
        "rfs_receipts": DECOYS["rfs_not_yet_due"],
        "write_down_journals": 0,
    }
    assert also["unreadable_rows"] == PLANTED["unreadable_rows"]
    credited = {row["return"]: row["standing"] for row in sheet(audited.out, "7 Receipt to credit")}
    for ret in roles(audited, "tolerance", "split"):
        assert credited[ret.return_id] == "credited"  # a penny off, or in two notes


def test_the_history_names_its_returns_by_every_matching_rule(audited: Audited) -> None:
    rules = {row["matched by"] for row in sheet(audited.out, "Credit notes")}
    for rule in Rule:
        if rule is not Rule.NONE:
            assert any(text.startswith(rule.value + " ") for text in rules), rule


def test_the_command_says_the_figures_and_where_the_report_is(audited: Audited) -> None:
    out = audited.output
    assert "1 returns with no credit             4 returns, 5 lines, 390.54 GBP" in out
    assert "median 16.0 days, p90 23.6 days (165 returns credited)" in out
    assert (audited.out / "audit.db").exists()  # --keep-db
