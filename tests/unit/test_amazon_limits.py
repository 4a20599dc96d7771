"""Client-side pacing and retry delays for the SP-API connector."""

from __future__ import annotations

import random
from itertools import pairwise

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


def test_a_slow_request_counts_as_reaching_amazon_when_its_answer_is_in() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep, headroom=1.0)
    with limiter.paced("submitInventoryUpdate"):
        t.now += 0.05  # slow on its way: Amazon may have taken its token only now
    for _ in range(9):
        with limiter.paced("submitInventoryUpdate"):
            pass
    with limiter.paced("submitInventoryUpdate"):
        pass
    # Amazon's bucket was full when the first request reached it, at 100.05 at the latest:
    # the 11th request may reach it one token later, not at 100.10.
    assert t.now == pytest.approx(100.15)


def test_answers_taking_time_do_not_slow_the_pace_below_the_plan() -> None:
    t = FakeTime()
    limiter = RateLimiter(clock=t.clock, sleep=t.sleep, headroom=1.0)
    sent = []
    for _ in range(30):
        with limiter.paced("submitInvoices"):
            sent.append(t.now)
            t.now += 0.02  # each answer takes 20 ms
    gaps = [b - a for a, b in pairwise(sent[12:])]
    assert gaps == pytest.approx([0.1] * 17)  # 10 per second once the burst is spent
    # 20 requests beyond the burst at 10 per second; the answers' time costs one answer's worth.
    assert sent[-1] == pytest.approx(100.0 + 2.0 + 0.02)


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
