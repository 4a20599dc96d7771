"""The alerts a clearing cycle raises, and that each points at a runbook entry that exists."""

from __future__ import annotations

import re
from pathlib import Path

from returnbridge.services.alerts import cycle_alerts
from returnbridge.services.cycles import CycleReport

RUNBOOK = Path(__file__).parents[2] / "docs" / "operations.md"


def _anchors() -> set[str]:
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_a_quiet_cycle_raises_nothing() -> None:
    assert cycle_alerts(CycleReport(prepared=3, sent=3, succeeded=3), calls=3, throttled=0) == []


def test_each_kind_of_trouble_raises_its_alert() -> None:
    report = CycleReport(rejected_items=2, rejected_lines=3, stuck=1, overstated=1, unsent=2)
    alerts = {a.name: a for a in cycle_alerts(report, calls=10, throttled=2)}
    assert set(alerts) == {
        "AMAZON_REJECTED",
        "AMAZON_STUCK",
        "CREDIT_OVERSTATED",
        "AMAZON_UNREACHABLE",
        "AMAZON_THROTTLED",
    }
    assert "2 item(s)" in alerts["AMAZON_REJECTED"].summary
    assert alerts["AMAZON_UNREACHABLE"].severity == "critical"


def test_throttling_alerts_only_above_the_share() -> None:
    assert cycle_alerts(CycleReport(), calls=10, throttled=1, throttle_share=0.1) == []
    (alert,) = cycle_alerts(CycleReport(), calls=10, throttled=2, throttle_share=0.1)
    assert alert.name == "AMAZON_THROTTLED" and "2 of 10" in alert.summary


def test_every_alert_links_to_a_runbook_entry_that_exists() -> None:
    report = CycleReport(rejected_items=1, stuck=1, overstated=1, unsent=1)
    anchors = _anchors()
    for alert in cycle_alerts(report, calls=1, throttled=1):
        page, _, anchor = alert.runbook.partition("#")
        assert page == "docs/operations.md"
        assert anchor in anchors, f"{alert.name}: no heading for #{anchor} in the runbook"
