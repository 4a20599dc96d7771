"""Alerts to the log: one structured ``alert`` event each, at WARNING (or ERROR if critical),
which log shippers and the JSON log format turn into pages and dashboards."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from returnbridge.services.alerting import AlertNotice
from returnbridge.services.alerts import Alert


class LogAlertSink:
    def __init__(self) -> None:
        self.log = structlog.get_logger("returnbridge.alerts")

    def emit(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            level = self.log.error if alert.severity == "critical" else self.log.warning
            level(
                "alert",
                alert=alert.name,
                severity=alert.severity,
                summary=alert.summary,
                runbook=alert.runbook,
            )

    def changed(self, notices: Sequence[AlertNotice]) -> None:
        """Stored alerts that started firing (``alert``, as ``emit``) or were resolved
        (``alert_resolved``, at INFO)."""
        for notice in notices:
            alert = notice.alert
            if notice.kind == "firing":
                level = self.log.error if alert.severity == "critical" else self.log.warning
                event = "alert"
            else:
                level, event = self.log.info, "alert_resolved"
            level(
                event,
                alert=alert.name,
                key=alert.key,
                severity=alert.severity,
                summary=alert.summary,
                runbook=alert.runbook,
            )
