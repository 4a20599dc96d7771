"""The SP-API connector (python-amazon-sp-api underneath) against the sandbox, over real HTTP."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count

import pytest

from returnbridge.connectors.amazon.limits import RateLimiter, RetryPolicy
from returnbridge.connectors.amazon.spapi import SpApiVendor
from returnbridge.domain.errors import AmazonRequestRejected
from returnbridge.entrypoints.cli.demo_amazon import sandbox_vendor
from returnbridge.sandboxes.amazon.config import (
    SandboxConfig,
)
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.services.ports import CreditNote, CreditNoteLine, InventoryPosition

WHEN = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
_numbers = count(1)


OPEN: list[SpApiVendor] = []


@pytest.fixture(autouse=True)
def _close_vendors() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def vendor_for(sandbox: RunningSandbox, **kw: object) -> SpApiVendor:
    vendor = sandbox_vendor(
        sandbox,
        retry=RetryPolicy(attempts=12, base_seconds=0.01, cap_seconds=0.1),
        rng=random.Random(3),
        **kw,
    )
    OPEN.append(vendor)
    return vendor


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(seed=1, polls_until_final=2)) as running:
        yield running


def credit_note(sku: str = "CAS-1", qty: int = 1, unit_amount: int = 2050) -> CreditNote:
    return CreditNote(
        number=f"CN-TEST-{next(_numbers)}",
        issued_at=WHEN,
        currency="GBP",
        returns_reference="ZZR-1",
        goods_returned_at=WHEN,
        rma_id="RMA1",
        lines=(CreditNoteLine(sku, "B0CAS12345", qty, unit_amount),),
    )


def running_reads(sandbox: RunningSandbox) -> int:
    return sum(t.status_reads for t in sandbox.sandbox.transactions.values())


def poll(read, transaction_id: str):  # type: ignore[no-untyped-def]
    for _ in range(10):
        status = read(transaction_id)
        if status.status != "Processing":
            return status
    raise AssertionError("still processing")


def test_an_inventory_update_reaches_amazons_stock_through_the_client_library(
    sandbox: RunningSandbox,
) -> None:
    vendor = vendor_for(sandbox)
    tx = vendor.submit_inventory(
        "UK-DC1", [InventoryPosition("CAS-1", "B0CAS12345", 3), InventoryPosition("CAS-2", None, 0)]
    )
    assert vendor.inventory_status(tx).status == "Processing"
    assert poll(vendor.inventory_status, tx).status == "Success"
    assert sandbox.sandbox.stock[("UK-DC1", "CAS-1")] == 3
    reads = running_reads(sandbox)
    assert vendor.stats.calls == 1 and vendor.stats.status_polls == reads >= 2
    assert vendor.stats.token_requests == 1


def test_a_credit_note_is_accepted_once(sandbox: RunningSandbox) -> None:
    vendor = vendor_for(sandbox)
    note = credit_note()
    tx = vendor.submit_credit_notes([note])
    assert poll(vendor.credit_note_status, tx).status == "Success"
    assert note.number in sandbox.sandbox.credit_notes
    assert sandbox.sandbox.credit_notes[note.number]["invoiceTotal"]["amount"] == "20.50"


def test_a_request_amazon_refuses_is_not_retried(sandbox: RunningSandbox) -> None:
    vendor = vendor_for(sandbox)
    with pytest.raises(AmazonRequestRejected) as refused:
        vendor.submit_credit_notes([credit_note(unit_amount=0)])
    assert refused.value.errors and refused.value.errors[0][0] == "InvalidInput"
    assert (vendor.stats.calls, vendor.stats.retries, vendor.stats.rejected_requests) == (1, 0, 1)


def test_faults_are_retried_until_each_submission_lands_once_in_effect() -> None:
    config = SandboxConfig(seed=5, polls_until_final=1).with_faults(0.5)
    with start_sandbox(config) as running:
        vendor = vendor_for(running)
        for n in range(20):
            tx = vendor.submit_inventory("UK-DC1", [InventoryPosition(f"CAS-{n}", None, n)])
            poll(vendor.inventory_status, tx)
        stock = dict(running.sandbox.stock)
        counters = running.sandbox.counters
    assert stock == {("UK-DC1", f"CAS-{n}"): n for n in range(20)}
    stats = vendor.stats
    assert stats.retries > 0 and stats.calls - stats.retries == 20
    # polls meet faults too: they are retried but not counted as submissions
    assert stats.throttled + stats.server_errors + stats.connection_errors >= stats.retries
    assert counters  # the sandbox's own view was readable after the run


def test_pacing_keeps_a_burst_of_submissions_under_amazons_limit(
    sandbox: RunningSandbox,
) -> None:
    vendor = vendor_for(sandbox, limiter=RateLimiter())
    for n in range(25):
        vendor.submit_inventory("UK-DC1", [InventoryPosition(f"CAS-{n}", None, 1)])
    assert vendor.stats.throttled == 0 and vendor.stats.calls == 25
