"""Client-side rate limiting per SP-API operation, and retries with backoff and jitter.

Amazon meters each operation with a token bucket (rate = tokens per second, burst = bucket
size) and answers 429 past it. Sending at the bucket's pace avoids most 429s; the rate comes
from each operation's usage plan and is corrected by the ``x-amzn-RateLimit-Limit`` header
whenever Amazon sends one (a vendor may have been granted more, or less).

Amazon takes a request's token when the request *arrives*, which we never see: only that it
was after we sent it and before its answer came back. So a token is taken from our bucket when
a request is sent (``acquire``) and counted again as taken when its answer is in
(``release``), the latest moment Amazon can have taken it. Otherwise a request slowed on its
way (a busy CPU, a new connection) would reach Amazon late, the next ones on time, and they
would arrive closer together than we paced them: right after a burst that is one 429.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    in_flight: int = 0  # requests sent whose answer is not in yet


@dataclass
class RateLimiter:
    """A token bucket per operation; ``acquire`` waits until a request may be sent."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    # Pace a hair under the plan: Amazon's bucket, not ours, decides, and its clock is not ours.
    # (When a request reaches Amazon is accounted for by ``release``, not by this margin.)
    headroom: float = 0.98
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

    def _refill(self, bucket: _Bucket) -> float:
        """Add the tokens earned since the bucket was last looked at; returns the paced rate."""
        now = self.clock()
        rate = bucket.rate * self.headroom
        bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        return rate

    def acquire(self, operation: str) -> float:
        """Take one token, waiting as needed; returns the seconds waited. Pair it with
        ``release`` once the answer is in (``paced`` does both)."""
        waited = 0.0
        while True:
            with self._lock:
                bucket = self._bucket(operation)
                rate = self._refill(bucket)
                if bucket.tokens >= 1 - 1e-9:  # floating-point refills land a hair short
                    bucket.tokens = max(0.0, bucket.tokens - 1)
                    bucket.in_flight += 1
                    return waited
                pause = (1 - bucket.tokens) / rate
            self.sleep(pause)
            waited += pause

    def release(self, operation: str) -> None:
        """A request's answer is in (or it failed): Amazon took its token at the latest now, so
        the bucket holds at most what it would had the token been taken now."""
        with self._lock:
            bucket = self._bucket(operation)
            self._refill(bucket)
            bucket.tokens = min(bucket.tokens, float(max(0, bucket.burst - bucket.in_flight)))
            bucket.in_flight = max(0, bucket.in_flight - 1)

    @contextmanager
    def paced(self, operation: str) -> Iterator[float]:
        """``acquire`` before the request, ``release`` after it, whatever happens."""
        waited = self.acquire(operation)
        try:
            yield waited
        finally:
            self.release(operation)

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
