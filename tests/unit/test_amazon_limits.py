"""Client-side pacing and retry delays for the SP-API connector."""

from __future__ import annotations

import random

import pytest

from returnbridge.connectors.amazon.limits import RateLimiter, RetryPolicy


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_burst_goes_out_at_once_and_the_rest_at_the_usage_plan_rate() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep, headroom=1.0)
    for _ in range(10):
        assert limiter.acquire("submitInventoryUpdate") == 0
    limiter.acquire("submitInventoryUpdate")
    assert sum(t.slept) == pytest.approx(0.1)  # the 11th waits one token at 10 per second
    for _ in range(9):
        limiter.acquire("submitInventoryUpdate")
    assert sum(t.slept) == pytest.approx(1.0)


def test_operations_have_their_own_buckets() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep, headroom=1.0)
    for _ in range(10):
        limiter.acquire("submitInventoryUpdate")
    for _ in range(20):
        limiter.acquire("getTransaction")  # burst 20 on the retail status operation
    assert t.slept == []


def test_the_rate_amazon_reports_replaces_the_default() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep, headroom=1.0)
    limiter.observe("submitInvoices", "2.5")
    limiter.observe("submitInvoices", "not a number")
    assert limiter.rate_of("submitInvoices") == 2.5
    for _ in range(11):
        limiter.acquire("submitInvoices")
    assert t.slept == [pytest.approx(0.4)]


def test_a_429_empties_the_bucket_so_the_next_request_waits() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep, headroom=1.0)
    limiter.acquire("submitInvoices")
    limiter.drain("submitInvoices")
    limiter.acquire("submitInvoices")
    assert t.slept == [pytest.approx(0.1)]


def test_retry_delays_grow_exponentially_within_the_cap_and_vary() -> None:
    policy = RetryPolicy(attempts=8, base_seconds=0.1, cap_seconds=2.0)
    rng = random.Random(1)
    delays = [[policy.delay(n, rng) for _ in range(200)] for n in range(6)]
    for n, sample in enumerate(delays):
        assert all(0 <= d <= min(2.0, 0.1 * 2**n) for d in sample)
        assert len(set(sample)) > 150  # jitter: no two clients retry in lockstep
    assert max(delays[4]) > max(delays[1])


def test_pacing_keeps_headroom_under_the_plan() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep, headroom=0.5)
    for _ in range(11):
        limiter.acquire("submitInvoices")
    assert t.slept == [pytest.approx(0.2)]
