"""The demo's ZigZag leg: the day reaches returnbridge by webhook, by polling or as a CSV file.

Each transport runs for real: ``webhook`` serves returnbridge's own HTTP service on loopback and
has the ZigZag sandbox deliver every event to it, signed, retrying as ZigZag does; ``poll``
serves the ZigZag sandbox and pages through its feed with a persisted cursor; ``csv`` imports
the day's export file. The same seed gives the same inbox, whichever the transport.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import SecretStr

from returnbridge.bootstrap import App
from returnbridge.connectors.zigzag.polling import ZigZagApiConfig
from returnbridge.entrypoints.cli.common import console
from returnbridge.entrypoints.cli.feeds import poll_zigzag_feed
from returnbridge.entrypoints.cli.pipeline import import_zigzag_file
from returnbridge.entrypoints.http import WEBHOOK_PATH, start_service
from returnbridge.sandboxes.zigzag.config import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    ZigZagSandboxConfig,
)
from returnbridge.sandboxes.zigzag.server import start_sandbox
from returnbridge.sandboxes.zigzag.webhooks import deliver_day

# ZigZag retries daily for 7 days; the demo lives those days in under a second each.
DEMO_TIME_SCALE = 1e-5


class Transport(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"
    CSV = "csv"


@dataclass(frozen=True)
class Arrival:
    """What the transport brought in: new events, ones seen before, and unreadable ones."""

    accepted: int
    duplicates: int
    unreadable: int
    detail: dict[str, int]


def demo_secret(seed: int) -> str:
    """A webhook secret for the demo's run (Standard Webhooks form), derived from the seed."""
    key = hashlib.sha256(f"returnbridge-demo-{seed}".encode()).digest()[:24]
    return "whsec_" + base64.b64encode(key).decode()


def bring_in(rb: App, transport: Transport, returns: int, seed: int, export: Path) -> Arrival:
    if transport is Transport.CSV:
        result = import_zigzag_file(rb, export)
        return Arrival(result.accepted, result.duplicates, result.invalid, {})
    if transport is Transport.POLL:
        with (
            start_sandbox(ZigZagSandboxConfig(seed=seed, returns=returns)) as zigzag,
            console.status("polling the ZigZag feed"),
        ):
            api = ZigZagApiConfig(zigzag.url, DEFAULT_USERNAME, DEFAULT_PASSWORD)
            polled = poll_zigzag_feed(rb, api)
        return Arrival(polled.accepted, polled.duplicates, polled.invalid, {"pages": polled.pages})
    secret = demo_secret(seed)
    rb.settings = rb.settings.model_copy(update={"zigzag_webhook_secret": SecretStr(secret)})
    with start_service(rb) as service, console.status("receiving ZigZag's webhooks"):
        config = ZigZagSandboxConfig(
            seed=seed,
            returns=returns,
            webhook_url=service.url + WEBHOOK_PATH,
            webhook_secret=secret,
            time_scale=DEMO_TIME_SCALE,
        )
        report = deliver_day(config, now=rb.clock)
    # What returnbridge answered each message the first time it heard it: 202 new, 200 seen
    # before, 400 unreadable (kept as INVALID_EVENT; ZigZag's re-sends then get 200).
    first = [next((s for s in r.statuses if s is not None), None) for r in report.records]
    return Arrival(
        first.count(202),
        first.count(200),
        first.count(400),
        {
            "messages": len(report.records),
            "attempts": report.attempts,
            "failed": report.failed,
        },
    )
