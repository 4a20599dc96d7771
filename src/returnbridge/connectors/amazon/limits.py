"""Client-side rate limiting per SP-API operation, and retries with backoff and jitter.

Amazon meters each operation with a token bucket (rate = tokens per second, burst = bucket
size) and answers 429 past it. Sending at the bucket's pace avoids most 429s; the rate comes
from each operation's usage plan and is corrected by the ``x-amzn-RateLimit-Limit`` header
whenever Amazon sends one (a vendor may have been granted more, or less).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Usage plans from the operations' descriptions in Amazon's models: (rate per second, burst).
USAGE_PLANS: dict[str, tuple[float, int]] = {
    "submitInventoryUpdate": (10.0, 10),
    "submitInvoices": (10.0, 10),
    "getTransactionStatus": (10.0, 10),
    "getTransaction": (10.0, 20),
}


@dataclass
class _Bucket:
    rate: float
    burst: int
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """A token bucket per operation; ``acquire`` waits until a request may be sent."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Pace a little under the plan: our clock starts before a request reaches Amazon (the first
    # one also fetches a token), and Amazon's bucket, not ours, decides.
    headroom: float = 0.9
    plans: dict[str, tuple[float, int]] = field(default_factory=lambda: dict(USAGE_PLANS))
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _bucket(self, operation: str) -> _Bucket:
        bucket = self._buckets.get(operation)
        if bucket is None:
            rate, burst = self.plans.get(operation, (1.0, 1))
            bucket = _Bucket(rate, burst, float(burst), self.clock())
            self._buckets[operation] = bucket
        return bucket

    def acquire(self, operation: str) -> float:
        """Take one token, waiting as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                bucket = self._bucket(operation)
                now = self.clock()
                rate = bucket.rate * self.headroom
                bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.stamp) * rate)
                bucket.stamp = now
                if bucket.tokens >= 1 - 1e-9:  # floating-point refills land a hair short
                    bucket.tokens = max(0.0, bucket.tokens - 1)
                    return waited
                pause = (1 - bucket.tokens) / rate
            self.sleep(pause)
            waited += pause

    def observe(self, operation: str, header: str | None) -> None:
        """Adopt the rate Amazon says it applied (``x-amzn-RateLimit-Limit``), if any."""
        if not header:
            return
        try:
            rate = float(header)
        except ValueError:
            return
        if rate > 0:
            with self._lock:
                self._bucket(operation).rate = rate

    def drain(self, operation: str) -> None:
        """A 429 says the bucket is empty on Amazon's side, whatever ours believed."""
        with self._lock:
            bucket = self._bucket(operation)
            bucket.tokens = 0.0
            bucket.stamp = self.clock()

    def rate_of(self, operation: str) -> float:
        with self._lock:
            return self._bucket(operation).rate


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2^n))."""

    attempts: int = 8
    base_seconds: float = 0.1
    cap_seconds: float = 10.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))
