"""``RecordingNotifier``: the in-memory fake of ``services.alerting.AlertNotifier``."""

from __future__ import annotations

from dataclasses import dataclass, field

from returnbridge.services.alerting import AlertNotDelivered, AlertNotice


@dataclass
class RecordingNotifier:
    """Keeps every notification it takes; while ``down``, refuses them as a dead webhook."""

    sent: list[AlertNotice] = field(default_factory=list)
    down: bool = False
    refused: int = 0

    def notify(self, notice: AlertNotice) -> None:
        if self.down:
            self.refused += 1
            raise AlertNotDelivered(f"the webhook is down ({notice.kind} {notice.alert.key})")
        self.sent.append(notice)

    def keys(self) -> list[tuple[str, str]]:
        return [(n.kind, n.alert.key) for n in self.sent]


__all__ = ["RecordingNotifier"]
