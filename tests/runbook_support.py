"""Every alert returnbridge can raise, fired at once: what the runbook and Prometheus rule tests
check against (tests/alerts and tests/unit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from returnbridge.services.alert_rules import (
    UNMAPPED_CODES,
    AlertFacts,
    AlertThresholds,
    CreditAge,
    QueueFacts,
    StockHold,
    UnmappedCode,
    evaluate,
)
from returnbridge.services.alerts import Alert, cycle_alerts
from returnbridge.services.cycles import CycleReport
from returnbridge.services.stock_sync import HOLD_CODES

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=90)


def every_alert_fired() -> list[Alert]:
    """Facts past every threshold, and a cycle report with every trouble, evaluated."""
    facts = AlertFacts(
        inbox=QueueFacts("inbox", 10**6, LONG_AGO),
        outbox=(QueueFacts("amazon.inventory", 10**6, LONG_AGO),),
        amazon_accepted=1,
        amazon_rejected=9,
        unmapped=tuple(UnmappedCode(code, "X", 1) for code in UNMAPPED_CODES),
        pending_credits=(CreditAge("GBP", 90, 1, 100),),
        rfs_not_received=1,
        amazon_unsent=1,
        amazon_unsent_since=LONG_AGO,
        erp_undelivered=1,
        erp_undelivered_batch="erp-1-2",
        amazon_oldest_change=LONG_AGO,
        stock_holds=tuple(StockHold(code, "AMZ-UK1", 2) for code in HOLD_CODES),
    )
    report = CycleReport(rejected_items=1, rejected_lines=1, stuck=1, overstated=1, unsent=1)
    return evaluate(facts, AlertThresholds(), NOW) + cycle_alerts(report, calls=1, throttled=1)
