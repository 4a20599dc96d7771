"""``ZigZagSandboxConfig``: every knob of the ZigZag sandbox, in one frozen object."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_USERNAME = "returnbridge-sandbox"
DEFAULT_PASSWORD = "returnbridge-sandbox-password"  # published: it only opens the sandbox
DEFAULT_JWT_KEY = "returnbridge-zigzag-sandbox-jwt-signing-key"  # published, like the password
DAY = 86_400.0
# ZigZag retries a failed delivery daily, for the past 7 days' worth of failures.
ZIGZAG_RETRY_SCHEDULE = (DAY,) * 7

Clock = Callable[[], float]


class ManualClock:
    """Epoch seconds that move only when told to: token expiry under a test's control."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += seconds


def _rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


@dataclass(frozen=True)
class ZigZagSandboxConfig:
    """How the sandbox behaves. The same config gives the same day and the same faults."""

    seed: int = 0
    """Seeds the generated day (``generator.generate_day``) and every injected fault."""
    returns: int = 50
    """Returns in the generated day."""

    username: str = DEFAULT_USERNAME
    """The API username ``POST /token`` accepts."""
    password: str = field(default=DEFAULT_PASSWORD, repr=False)
    """The API password ``POST /token`` accepts."""
    token_ttl_seconds: int = 1800
    """Lifetime of an issued JWT (ZigZag's: 30 minutes)."""
    jwt_key: str = field(default=DEFAULT_JWT_KEY, repr=False)
    """HS256 key the sandbox signs its JWTs with (the client never needs it)."""
    clock: Clock = field(default=time.time, compare=False, repr=False)
    """Epoch seconds for issuing and checking tokens; a ``ManualClock`` in tests."""

    default_page_size: int = 100
    """Events per page when ``GET /events`` names no ``limit``."""
    max_page_size: int = 1000
    """A larger ``limit`` is served this many events."""
    api_error_rate: float = 0.0
    """Share of API requests (token and feed) answered 503 before any handling."""

    webhook_url: str | None = None
    """Where the deliverer POSTs each event; None: no webhooks."""
    webhook_secret: str | None = field(default=None, repr=False)
    """The Standard Webhooks secret (``whsec_<base64>``) deliveries are signed with."""
    retry_schedule: tuple[float, ...] = ZIGZAG_RETRY_SCHEDULE
    """Seconds before each retry round of the failed deliveries (ZigZag: daily, 7 times)."""
    time_scale: float = 1.0
    """Multiplies every retry wait: 1e-5 turns a day into 0.86 s for tests and demos."""
    delivery_timeout_seconds: float = 10.0
    """How long the deliverer waits for an answer before counting the attempt as failed."""
    lost_request_rate: float = 0.0
    """Share of delivery attempts that never reach the target (a connection error)."""
    lost_answer_rate: float = 0.0
    """Share of delivery attempts that reach the target but whose answer is lost: ZigZag
    retries, and the target sees the same ``webhook-id`` again."""

    def __post_init__(self) -> None:
        if self.returns < 1:
            raise ValueError("a day needs at least one return")
        if self.token_ttl_seconds < 1:
            raise ValueError("token_ttl_seconds must be at least 1")
        if not 1 <= self.default_page_size <= self.max_page_size:
            raise ValueError("default_page_size must be between 1 and max_page_size")
        if self.time_scale < 0:
            raise ValueError("time_scale must not be negative")
        if any(wait < 0 for wait in self.retry_schedule):
            raise ValueError("retry_schedule waits must not be negative")
        for name in ("api_error_rate", "lost_request_rate", "lost_answer_rate"):
            _rate(name, getattr(self, name))
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("a webhook_url needs a webhook_secret (whsec_...) to sign with")
        if self.webhook_secret and not self.webhook_secret.startswith("whsec_"):
            raise ValueError("webhook_secret must be a Standard Webhooks secret: whsec_<base64>")
