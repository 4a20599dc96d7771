"""Injected faults: 500/503, throttle storms, slow answers, and responses cut after processing."""

from __future__ import annotations

import time

import httpx
import pytest
from amazon_sandbox_support import Connect, StartSandbox, credit_note, inventory, item

from returnbridge.sandboxes.amazon import SandboxConfig, start_sandbox


def test_server_errors_are_500_or_503_with_errors_and_change_nothing(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(error_rate=1.0, seed=3)
    vendor = connect(running)

    answers = [vendor.post_inventory(inventory(item("SKU-1"))) for _ in range(12)]

    assert {a.status_code for a in answers} == {500, 503}
    for answer in answers:
        (error,) = answer.json()["errors"]
        expected = "InternalFailure" if answer.status_code == 500 else "ServiceUnavailable"
        assert error["code"] == expected
        assert answer.headers["x-amzn-RequestId"]
        assert "x-amzn-RateLimit-Limit" not in answer.headers
    assert running.sandbox.stock == {}
    assert running.sandbox.transactions == {}
    assert running.sandbox.counters["submitInventoryUpdate"].errors_injected == 12


def test_a_throttle_storm_answers_429_whatever_the_bucket_holds(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(throttle_storm_rate=1.0)
    vendor = connect(running)

    answer = vendor.post_invoices(credit_note("CN-1"))

    assert answer.status_code == 429
    assert answer.json()["errors"][0]["code"] == "QuotaExceeded"
    counters = running.sandbox.counters["submitInvoices"]
    assert (counters.storms_injected, counters.throttled, counters.requests) == (1, 1, 1)
    assert running.sandbox.credit_notes == {}


def test_a_dropped_response_is_a_connection_error_but_the_request_was_applied(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(drop_rate=1.0)
    vendor = connect(running)
    token = vendor.token  # LWA is never faulted

    with pytest.raises(httpx.RemoteProtocolError):
        vendor.post_inventory(inventory(item("SKU-1", 7)))
    with pytest.raises(httpx.RemoteProtocolError):
        vendor.post_invoices(credit_note("CN-1"))

    sandbox = running.sandbox
    assert sandbox.stock == {("W1", "SKU-1"): 7}
    assert set(sandbox.credit_notes) == {"CN-1"}
    assert sandbox.counters["submitInventoryUpdate"].drops_injected == 1
    assert sandbox.counters["submitInvoices"].drops_injected == 1
    assert len(sandbox.transactions) == 2
    assert token
    # The sandbox's own routes are never faulted.
    assert httpx.get(running.url + "/_sandbox/state").status_code == 200


def test_a_slow_request_is_delayed_then_answered(start: StartSandbox, connect: Connect) -> None:
    running = start(slow_rate=1.0, slow_seconds=0.2)
    vendor = connect(running)
    assert vendor.token  # fetched before the timed call

    began = time.perf_counter()
    answer = vendor.post_inventory(inventory(item("SKU-1")))

    assert time.perf_counter() - began >= 0.2
    assert answer.status_code == 202
    assert running.sandbox.counters["submitInventoryUpdate"].slow_injected == 1


def test_the_same_seed_gives_the_same_faults(start: StartSandbox, connect: Connect) -> None:
    runs = []
    for _ in range(2):
        vendor = connect(start(seed=5, error_rate=0.3, throttle_storm_rate=0.3))
        runs.append([vendor.df_status("x").status_code for _ in range(10)])

    assert runs[0] == runs[1]
    assert {500, 503, 429} & set(runs[0])
    assert 404 in runs[0]


def test_with_faults_spreads_one_rate_over_throttles_errors_and_drops() -> None:
    config = SandboxConfig(seed=2).with_faults(0.5)

    assert config.throttle_storm_rate == pytest.approx(0.2)
    assert config.error_rate == pytest.approx(0.2)
    assert config.drop_rate == pytest.approx(0.1)
    assert config.seed == 2


@pytest.mark.parametrize(
    "knobs",
    [{"reject_rate": 1.5}, {"error_rate": 0.6, "drop_rate": 0.6}, {"rate_multiplier": 0}],
)
def test_impossible_knobs_are_refused_by_name(knobs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="SandboxConfig"):
        SandboxConfig(**knobs)


def test_a_standalone_sandbox_picks_a_free_port_and_stops() -> None:
    with start_sandbox() as running:
        assert running.url.startswith("http://127.0.0.1:")
        assert httpx.get(running.url + "/_sandbox/state").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(running.url + "/_sandbox/state")


def test_the_sandbox_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        start_sandbox(host="0.0.0.0")
