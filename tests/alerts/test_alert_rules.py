"""The alert rules: each fires one step past its limit and not at it, keeps its key while its
figures change, and says what it found."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from returnbridge.domain.schedule import CycleSchedule
from returnbridge.services.alert_rules import (
    AlertFacts,
    AlertThresholds,
    CreditAge,
    QueueFacts,
    UnmappedCode,
    evaluate,
    sync_lag_limit,
)
from returnbridge.services.alerts import Alert

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
LIMITS = AlertThresholds(
    inbox_depth=100,
    inbox_age=timedelta(minutes=15),
    outbox_depth=1_000,
    outbox_age=timedelta(days=2),
    rejection_rate=0.05,
    pending_credit_days=30,
    sync_lag=timedelta(hours=25),
    unreachable_after=timedelta(minutes=15),
)
QUIET = AlertFacts(
    inbox=QueueFacts("inbox", 0, None),
    outbox=(QueueFacts("amazon.inventory", 0, None), QueueFacts("erp.journal", 0, None)),
)
SECOND = timedelta(seconds=1)


def keys(facts: AlertFacts) -> set[str]:
    return {a.key for a in evaluate(facts, LIMITS, NOW)}


def at_limit_and_past(at: AlertFacts, past: AlertFacts, key: str) -> tuple[set[str], Alert | None]:
    fired = {a.key: a for a in evaluate(past, LIMITS, NOW)}
    return keys(at), fired.get(key)


def test_a_quiet_database_raises_nothing() -> None:
    assert evaluate(QUIET, LIMITS, NOW) == []


CASES = {
    "inbox depth": (
        replace(QUIET, inbox=QueueFacts("inbox", 100, NOW)),
        replace(QUIET, inbox=QueueFacts("inbox", 101, NOW)),
        "QUEUE_DEPTH:inbox",
    ),
    "inbox age": (
        replace(QUIET, inbox=QueueFacts("inbox", 1, NOW - timedelta(minutes=15))),
        replace(QUIET, inbox=QueueFacts("inbox", 1, NOW - timedelta(minutes=15) - SECOND)),
        "QUEUE_AGE:inbox",
    ),
    "outbox depth": (
        replace(QUIET, outbox=(QueueFacts("erp.journal", 1_000, NOW),)),
        replace(QUIET, outbox=(QueueFacts("erp.journal", 1_001, NOW),)),
        "QUEUE_DEPTH:erp.journal",
    ),
    "outbox age": (
        replace(QUIET, outbox=(QueueFacts("amazon.inventory", 3, NOW - timedelta(days=2)),)),
        replace(
            QUIET, outbox=(QueueFacts("amazon.inventory", 3, NOW - timedelta(days=2) - SECOND),)
        ),
        "QUEUE_AGE:amazon.inventory",
    ),
    "rejection rate": (
        replace(QUIET, amazon_accepted=95, amazon_rejected=5),
        replace(QUIET, amazon_accepted=94, amazon_rejected=6),
        "AMAZON_REJECTION_RATE",
    ),
    "unmapped code": (
        replace(QUIET, unmapped=(UnmappedCode("UNMAPPED_REASON", "99", 0),)),
        replace(QUIET, unmapped=(UnmappedCode("UNMAPPED_REASON", "99", 1),)),
        "UNMAPPED_CODE:UNMAPPED_REASON:99",
    ),
    "pending credit": (
        replace(QUIET, pending_credits=(CreditAge("GBP", 30, 2, 4_000),)),
        replace(QUIET, pending_credits=(CreditAge("GBP", 31, 2, 4_000),)),
        "CREDIT_PENDING_AGED",
    ),
    "rfs not received": (
        replace(QUIET, rfs_not_received=0),
        replace(QUIET, rfs_not_received=1),
        "RFS_NOT_RECEIVED",
    ),
    "amazon unreachable": (
        replace(QUIET, amazon_unsent=2, amazon_unsent_since=NOW - timedelta(minutes=15)),
        replace(QUIET, amazon_unsent=2, amazon_unsent_since=NOW - timedelta(minutes=15) - SECOND),
        "PARTNER_UNREACHABLE:amazon",
    ),
    "erp unreachable": (
        replace(QUIET, erp_undelivered=0),
        replace(QUIET, erp_undelivered=1, erp_undelivered_batch="erp-1-9"),
        "PARTNER_UNREACHABLE:erp",
    ),
    "sync lag": (
        replace(QUIET, amazon_oldest_change=NOW - timedelta(hours=25)),
        replace(QUIET, amazon_oldest_change=NOW - timedelta(hours=25) - SECOND),
        "SYNC_LAG",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_each_rule_fires_one_step_past_its_limit_and_not_at_it(
    case: tuple[AlertFacts, AlertFacts, str],
) -> None:
    at, past, key = case
    quiet, fired = at_limit_and_past(at, past, key)
    assert key not in quiet
    assert fired is not None, f"{key} did not fire past its limit"
    assert fired.runbook.startswith("docs/operations.md#")
    assert fired.severity in {"warning", "critical"}


def test_the_key_of_a_condition_stays_while_its_figures_change() -> None:
    first = evaluate(replace(QUIET, inbox=QueueFacts("inbox", 101, NOW)), LIMITS, NOW)
    later = evaluate(replace(QUIET, inbox=QueueFacts("inbox", 5_000, NOW)), LIMITS, NOW)
    assert [a.key for a in first] == [a.key for a in later] == ["QUEUE_DEPTH:inbox"]
    assert first[0].summary != later[0].summary
    assert "101" in first[0].summary and "limit 100" in first[0].summary


def test_each_queue_and_each_code_is_its_own_condition() -> None:
    facts = replace(
        QUIET,
        inbox=QueueFacts("inbox", 101, NOW),
        outbox=(QueueFacts("amazon.inventory", 1_001, NOW), QueueFacts("erp.journal", 1_001, NOW)),
        unmapped=(
            UnmappedCode("UNMAPPED_REASON", "99", 3),
            UnmappedCode("UNMAPPED_REASON", "98", 1),
            UnmappedCode("UNKNOWN_SKU", "NOPE-1", 1),
        ),
    )
    alerts = {a.key: a for a in evaluate(facts, LIMITS, NOW)}
    assert set(alerts) == {
        "QUEUE_DEPTH:inbox",
        "QUEUE_DEPTH:amazon.inventory",
        "QUEUE_DEPTH:erp.journal",
        "UNMAPPED_CODE:UNMAPPED_REASON:99",
        "UNMAPPED_CODE:UNMAPPED_REASON:98",
        "UNMAPPED_CODE:UNKNOWN_SKU:NOPE-1",
    }
    reason = alerts["UNMAPPED_CODE:UNMAPPED_REASON:99"]
    assert reason.runbook == "docs/operations.md#unmapped_reason"
    assert reason.summary == "3 open UNMAPPED_REASON exception(s) for reason code '99'"
    assert alerts["UNMAPPED_CODE:UNKNOWN_SKU:NOPE-1"].runbook == "docs/operations.md#unknown_sku"


def test_an_old_inbox_is_critical_and_an_old_outbox_a_warning() -> None:
    old = NOW - timedelta(days=3)
    facts = replace(
        QUIET, inbox=QueueFacts("inbox", 1, old), outbox=(QueueFacts("erp.journal", 1, old),)
    )
    severity = {a.key: a.severity for a in evaluate(facts, LIMITS, NOW)}
    assert severity == {"QUEUE_AGE:inbox": "critical", "QUEUE_AGE:erp.journal": "warning"}


def test_the_summaries_carry_the_figures() -> None:
    facts = replace(
        QUIET,
        amazon_accepted=90,
        amazon_rejected=10,
        pending_credits=(
            CreditAge("GBP", 31, 2, 4_050),
            CreditAge("GBP", 45, 1, 1_000),
            CreditAge("EUR", 40, 1, 999),
            CreditAge("GBP", 12, 5, 99_999),  # young: not counted
        ),
        amazon_oldest_change=NOW - timedelta(hours=30),
        last_cycle_closed=datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
    )
    alerts = {a.key: a.summary for a in evaluate(facts, LIMITS, NOW)}
    assert alerts["AMAZON_REJECTION_RATE"] == (
        "Amazon rejected 10 of 100 change(s) answered in the last 24 h 0 min (10.0%, limit 5.0%)"
    )
    assert alerts["CREDIT_PENDING_AGED"] == (
        "4 return line(s) have credit pending for more than 30 day(s) (EUR 9.99, GBP 50.50); "
        "the oldest came back 45 day(s) ago"
    )
    assert "30 h 0 min behind" in alerts["SYNC_LAG"]
    assert "last clearing cycle closed: 2026-11-02 02:00 UTC" in alerts["SYNC_LAG"]


def test_nothing_answered_is_no_rejection_rate() -> None:
    assert keys(replace(QUIET, amazon_accepted=0, amazon_rejected=0)) == set()


@pytest.mark.parametrize(
    ("schedule", "limit"),
    [
        ("daily 02:00", timedelta(hours=25)),
        ("02:00,14:00", timedelta(hours=13)),
        ("06:00,08:00", timedelta(hours=23)),  # the gap overnight is the longest
        ("every 15m", timedelta(minutes=75)),
    ],
)
def test_the_sync_lag_limit_is_the_longest_gap_between_cut_offs_plus_grace(
    schedule: str, limit: timedelta
) -> None:
    assert sync_lag_limit(CycleSchedule.parse(schedule), timedelta(hours=1)) == limit


def test_an_alert_without_a_key_is_known_by_its_name() -> None:
    assert Alert("AMAZON_STUCK", "warning", "x", "docs/operations.md#amazon_stuck").key == (
        "AMAZON_STUCK"
    )
