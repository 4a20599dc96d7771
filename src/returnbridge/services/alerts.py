"""Alerts: what a clearing cycle tells the people running the business, each with its runbook.

A cycle's alerts are decided here, from the cycle's report and what talking to Amazon cost; the
alerts evaluated from the state of the database are in ``alert_rules``. Where they go (the log,
the ``alerts`` table and a webhook: ``alerting``) is the caller's choice (``AlertSink``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from returnbridge.services.cycles import CycleReport

RUNBOOK = "docs/operations.md"


@dataclass(frozen=True)
class Alert:
    name: str  # stable, machine-readable: what a pager rule or dashboard keys on
    severity: str  # "warning" (look today) or "critical" (look now)
    summary: str
    runbook: str  # the runbook entry that says what it means and what to do
    key: str = ""  # what one condition is known by while it lasts (de-duplication); the name

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)


class AlertSink(Protocol):
    def emit(self, alerts: Sequence[Alert]) -> None: ...


def cycle_alerts(
    report: CycleReport, calls: int, throttled: int, throttle_share: float = 0.1
) -> list[Alert]:
    """The alerts one clearing cycle raises."""
    alerts = []
    if report.rejected_items or report.rejected_lines:
        alerts.append(
            Alert(
                "AMAZON_REJECTED",
                "warning",
                f"Amazon rejected {report.rejected_items} item(s) of this cycle; "
                f"{report.rejected_lines} return line(s) hold an AMAZON_REJECTED exception",
                f"{RUNBOOK}#amazon_rejected",
            )
        )
    if report.stuck:
        alerts.append(
            Alert(
                "AMAZON_STUCK",
                "warning",
                f"{report.stuck} Amazon transaction(s) still Processing past the stuck limit",
                f"{RUNBOOK}#amazon_stuck",
            )
        )
    if report.overstated:
        alerts.append(
            Alert(
                "CREDIT_OVERSTATED",
                "warning",
                f"{report.overstated} return line(s) hold more credit at Amazon than they owe",
                f"{RUNBOOK}#credit_overstated",
            )
        )
    if report.unsent:
        alerts.append(
            Alert(
                "AMAZON_UNREACHABLE",
                "critical",
                f"{report.unsent} submission(s) could not be sent: Amazon unreachable; "
                "they stay pending for the next run",
                f"{RUNBOOK}#amazon-unreachable",
            )
        )
    if calls and throttled / calls > throttle_share:
        alerts.append(
            Alert(
                "AMAZON_THROTTLED",
                "warning",
                f"Amazon throttled {throttled} of {calls} submission request(s) "
                f"(over {throttle_share:.0%})",
                f"{RUNBOOK}#throttling",
            )
        )
    return alerts
