"""Usage plans: one token bucket per operation, rate and burst from the model."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from amazon_sandbox_support import Connect, StartSandbox, Vendor, credit_note, inventory, item

from returnbridge.sandboxes.amazon import ManualClock, RunningSandbox
from returnbridge.sandboxes.amazon.catalog import response_validator

QUOTA = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
}


def call_of(vendor: Vendor, operation: str) -> Callable[[], httpx.Response]:
    """One request of ``operation`` that would otherwise succeed."""
    if operation == "submitInventoryUpdate":
        return lambda: vendor.post_inventory(inventory(item("SKU-1")))
    if operation == "submitInvoices":
        return lambda: vendor.post_invoices(credit_note("CN-1"))
    transaction_id = vendor.running.sandbox.submit_inventory(
        "W1", {"inventory": inventory(item("SKU-1"))}
    )
    if operation == "getTransactionStatus":
        return lambda: vendor.df_status(transaction_id)
    retail_id = vendor.running.sandbox.submit_invoices({"invoices": [credit_note("CN-9")]})
    return lambda: vendor.retail_status(retail_id)


@pytest.mark.parametrize(
    ("operation", "burst"),
    [
        ("submitInventoryUpdate", 10),
        ("submitInvoices", 10),
        ("getTransactionStatus", 10),
        ("getTransaction", 20),
    ],
)
def test_one_request_over_the_burst_is_throttled_with_quota_exceeded(
    vendor: Vendor, operation: str, burst: int
) -> None:
    call = call_of(vendor, operation)

    answers = [call() for _ in range(burst + 1)]

    assert [a.status_code for a in answers[:burst]] == [answers[0].status_code] * burst
    assert answers[0].status_code in {200, 202}
    assert answers[0].headers["x-amzn-RateLimit-Limit"] == "10.0"
    throttled = answers[-1]
    assert throttled.status_code == 429
    assert throttled.json() == QUOTA
    response_validator(operation, 429).validate(throttled.json())
    # The models declare only x-amzn-RequestId on 429.
    assert throttled.headers["x-amzn-RequestId"]
    assert "x-amzn-RateLimit-Limit" not in throttled.headers
    assert vendor.running.sandbox.counters[operation].throttled == 1


def test_request_ids_are_unique_per_response(vendor: Vendor) -> None:
    ids = {vendor.df_status("x").headers["x-amzn-RequestId"] for _ in range(5)}

    assert len(ids) == 5


def test_buckets_refill_at_the_rate_and_are_separate_per_operation(
    vendor: Vendor, clock: ManualClock
) -> None:
    for _ in range(10):
        assert vendor.post_inventory(inventory(item("SKU-1"))).status_code == 202
    assert vendor.post_inventory(inventory(item("SKU-1"))).status_code == 429
    # Another operation has its own bucket.
    assert vendor.post_invoices(credit_note("CN-1")).status_code == 202

    clock.advance(0.1)  # 10 per second: one token back

    assert vendor.post_inventory(inventory(item("SKU-1"))).status_code == 202
    assert vendor.post_inventory(inventory(item("SKU-1"))).status_code == 429


def test_the_rate_multiplier_scales_rate_burst_and_the_header(
    start: StartSandbox, connect: Connect
) -> None:
    vendor = connect(start(rate_multiplier=0.2))  # 2 per second, burst 2

    answers = [vendor.post_inventory(inventory(item("SKU-1"))) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[0].headers["x-amzn-RateLimit-Limit"] == "2.0"
    assert vendor.running.sandbox.usage_plan("submitInventoryUpdate") == (2.0, 2)


def test_a_default_sandbox_enforces_amazons_published_usage_plans(amazon: RunningSandbox) -> None:
    sandbox = amazon.sandbox
    plans = {name: sandbox.usage_plan(name) for name in sandbox.catalog}

    assert plans == {
        "submitInventoryUpdate": (10.0, 10),
        "submitInvoices": (10.0, 10),
        "getTransactionStatus": (10.0, 10),
        "getTransaction": (10.0, 20),
    }


def test_requests_refused_for_their_token_do_not_use_the_bucket(vendor: Vendor) -> None:
    for _ in range(15):
        response = vendor.http.post(
            "/vendor/payments/v1/invoices", json={"invoices": [credit_note("CN-1")]}
        )
        assert response.status_code == 403

    assert vendor.post_invoices(credit_note("CN-1")).status_code == 202
