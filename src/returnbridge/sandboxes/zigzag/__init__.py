"""ZigZag sandbox: a seeded day of returns, served the three ways ZigZag delivers events.

``generator`` makes the day; ``transports`` gives it per transport (CSV export, polling feed,
webhooks: the same events in the same order); ``server`` serves ``POST /token`` (JWT) and the
polling feed over real HTTP on loopback; ``webhooks`` delivers the day, signed and retried as
ZigZag does. Written independently of ``returnbridge.connectors`` on purpose: the sandbox states
ZigZag's side of the contract, so a bug cannot hide on both sides.

    with start_sandbox(ZigZagSandboxConfig(seed=7, returns=200)) as running:
        ...  # POST running.token_url, GET running.events_url; running.deliver() for webhooks
"""

from returnbridge.sandboxes.zigzag.app import create_app
from returnbridge.sandboxes.zigzag.config import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    ManualClock,
    ZigZagSandboxConfig,
)
from returnbridge.sandboxes.zigzag.server import RunningSandbox, serve_forever, start_sandbox
from returnbridge.sandboxes.zigzag.state import ZigZagSandbox
from returnbridge.sandboxes.zigzag.transports import DayDeliveries, WebhookMessage, day_deliveries
from returnbridge.sandboxes.zigzag.webhooks import (
    DeliveryRecord,
    DeliveryReport,
    WebhookDeliverer,
    deliver_day,
)

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "DayDeliveries",
    "DeliveryRecord",
    "DeliveryReport",
    "ManualClock",
    "RunningSandbox",
    "WebhookDeliverer",
    "WebhookMessage",
    "ZigZagSandbox",
    "ZigZagSandboxConfig",
    "create_app",
    "day_deliveries",
    "deliver_day",
    "serve_forever",
    "start_sandbox",
]
