"""Token buckets, as SP-API's usage plans describe them, over an injectable clock."""

from __future__ import annotations

import threading
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds on a monotonic scale, e.g. ``time.monotonic``."""


class ManualClock:
    """A clock that moves only when told to: freezes token buckets, tokens and timers in tests."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += seconds


class TokenBucket:
    """``rate`` tokens added per second, up to ``burst``; a request takes one or is throttled.

    Starts full, as a fresh usage plan does. Not thread-safe on its own: the sandbox takes its
    lock around ``try_take``.
    """

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def try_take(self) -> bool:
        """Take one token if there is one."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        # The epsilon absorbs float error: 0.1 s at 10/s must give back a whole token.
        if self._tokens >= 1.0 - 1e-9:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False
