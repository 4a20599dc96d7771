"""Accepted submissions: Processing, then Success (applied) or Failure (listed, not applied)."""

from __future__ import annotations

import httpx
from amazon_sandbox_support import (
    DF_STATUS_PATH,
    Connect,
    StartSandbox,
    Vendor,
    credit_note,
    inventory,
    invoice,
    item,
)

from returnbridge.sandboxes.amazon import ManualClock, RejectedItem
from returnbridge.sandboxes.amazon.catalog import response_validator


def test_a_valid_inventory_update_is_accepted_then_succeeds_and_sets_stock(vendor: Vendor) -> None:
    response = vendor.post_inventory(inventory(item("SKU-1", 5), item("SKU-2", 0)), "W1")

    assert response.status_code == 202
    response_validator("submitInventoryUpdate", 202).validate(response.json())
    assert response.headers["x-amzn-RateLimit-Limit"] == "10.0"
    assert response.headers["x-amzn-RequestId"]
    transaction_id = response.json()["payload"]["transactionId"]

    first = vendor.df_status(transaction_id)
    second = vendor.df_status(transaction_id)

    for read in (first, second):
        assert read.status_code == 200
        response_validator("getTransactionStatus", 200).validate(read.json())
    assert first.json()["payload"]["transactionStatus"] == {
        "transactionId": transaction_id,
        "status": "Processing",
    }
    assert second.json()["payload"]["transactionStatus"]["status"] == "Success"
    assert "errors" not in second.json()["payload"]["transactionStatus"]
    assert vendor.running.sandbox.stock == {("W1", "SKU-1"): 5, ("W1", "SKU-2"): 0}


def test_inventory_quantities_are_absolute_per_warehouse(vendor: Vendor) -> None:
    vendor.submit_inventory(inventory(item("SKU-1", 5)), "W1")
    vendor.submit_inventory(inventory(item("SKU-1", 3)), "W1")
    vendor.submit_inventory(inventory(item("SKU-1", 9)), "W2")

    assert vendor.running.sandbox.stock == {("W1", "SKU-1"): 3, ("W2", "SKU-1"): 9}


def test_a_full_update_zeroes_the_unlisted_items_of_its_warehouse_only(vendor: Vendor) -> None:
    vendor.submit_inventory(inventory(item("SKU-1", 5), item("SKU-2", 6)), "W1")
    vendor.submit_inventory(inventory(item("SKU-2", 7)), "W2")

    vendor.submit_inventory(inventory(item("SKU-3", 1), full=True), "W1")

    assert vendor.running.sandbox.stock == {
        ("W1", "SKU-1"): 0,
        ("W1", "SKU-2"): 0,
        ("W1", "SKU-3"): 1,
        ("W2", "SKU-2"): 7,
    }


def test_an_asin_only_item_is_stocked_under_its_asin(vendor: Vendor) -> None:
    asin_item = {
        "buyerProductIdentifier": "B0TEST0001",
        "availableQuantity": {"amount": 2, "unitOfMeasure": "Each"},
    }

    vendor.submit_inventory(inventory(asin_item))

    assert vendor.running.sandbox.stock == {("W1", "B0TEST0001"): 2}


def test_bad_items_fail_the_whole_transaction_each_named_and_nothing_applied(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(known_items={"SKU-1", "SKU-2", "B0OLD"}, polls_until_final=0)
    vendor = connect(running)
    vendor.submit_inventory(inventory(item("SKU-1", 4)))

    transaction_id = vendor.submit_inventory(
        inventory(
            item("SKU-1", 10),
            item("SKU-404", 1),
            item("SKU-2", -3),
            item("SKU-2", 1, buyerProductIdentifier="B0OLD", isObsolete=True),
        )
    )
    status = vendor.final_status(transaction_id)

    assert status["status"] == "Failure"
    assert [(e["code"], e["details"]) for e in status["errors"]] == [
        ("InvalidItem", "items[1]"),
        ("INVALID_QUANTITY", "items[2]"),
        ("ObsoleteItem", "items[3]"),
    ]
    assert "SKU-404" in status["errors"][0]["message"]
    assert "-3" in status["errors"][1]["message"]
    sandbox = running.sandbox
    assert sandbox.stock == {("W1", "SKU-1"): 4}
    assert sandbox.failed_transaction_items == 4
    assert sandbox.rejected_items == [
        RejectedItem(transaction_id, 1, "InvalidItem", "inventory", "W1/SKU-404"),
        RejectedItem(transaction_id, 2, "INVALID_QUANTITY", "inventory", "W1/SKU-2"),
        RejectedItem(transaction_id, 3, "ObsoleteItem", "inventory", "W1/SKU-2"),
    ]
    assert sandbox.rejected_records() == {("inventory", "W1/SKU-404"), ("inventory", "W1/SKU-2")}


def test_items_are_known_by_asin_as_well(start: StartSandbox, connect: Connect) -> None:
    vendor = connect(start(known_items={"B0KNOWN"}, polls_until_final=0))

    transaction_id = vendor.submit_inventory(
        inventory(item("SKU-NEW", 1, buyerProductIdentifier="B0KNOWN"))
    )

    assert vendor.final_status(transaction_id)["status"] == "Success"


def test_injected_rejections_fail_items_reproducibly(start: StartSandbox, connect: Connect) -> None:
    outcomes = []
    for _ in range(2):
        vendor = connect(start(seed=11, reject_rate=0.5, polls_until_final=0))
        transaction_id = vendor.submit_inventory(inventory(*(item(f"SKU-{n}") for n in range(8))))
        outcomes.append(vendor.final_status(transaction_id))

    assert outcomes[0] == outcomes[1]
    status = outcomes[0]
    assert status["status"] == "Failure"
    assert {e["code"] for e in status["errors"]} == {"Rejected"}
    assert 0 < len(status["errors"]) < 8
    assert vendor.running.sandbox.stock == {}


def test_a_credit_note_is_accepted_and_recorded(vendor: Vendor) -> None:
    note = credit_note("CN-1", rmaId="RMA-9")

    transaction_id = vendor.submit_invoices(note)
    status = vendor.final_status(transaction_id, retail=True)

    assert status == {"transactionId": transaction_id, "status": "Success"}
    assert vendor.running.sandbox.credit_notes == {"CN-1": note}


def test_a_credit_note_referencing_an_unknown_invoice_fails(
    start: StartSandbox, connect: Connect
) -> None:
    vendor = connect(start(known_invoices={"INV-1"}, polls_until_final=0))

    good = vendor.submit_invoices(credit_note("CN-1", reference="INV-1"))
    bad = vendor.submit_invoices(credit_note("CN-2", reference="INV-X"))

    assert vendor.final_status(good, retail=True)["status"] == "Success"
    status = vendor.final_status(bad, retail=True)
    assert status["status"] == "Failure"
    assert [(e["code"], e["details"]) for e in status["errors"]] == [
        ("UnknownReference", "invoices[0].items[0]")
    ]
    assert "INV-X" in status["errors"][0]["message"]
    assert set(vendor.running.sandbox.credit_notes) == {"CN-1"}


def test_an_invoice_accepted_by_the_sandbox_becomes_a_known_reference(
    start: StartSandbox, connect: Connect
) -> None:
    vendor = connect(start(known_invoices={"INV-1"}, polls_until_final=0))
    vendor.submit_invoices(invoice("INV-2"))

    transaction_id = vendor.submit_invoices(credit_note("CN-1", reference="INV-2"))

    assert vendor.final_status(transaction_id, retail=True)["status"] == "Success"


def test_stuck_transactions_stay_processing_and_are_never_applied(
    start: StartSandbox, connect: Connect
) -> None:
    vendor = connect(start(stuck_rate=1.0, polls_until_final=0))
    transaction_id = vendor.submit_inventory(inventory(item("SKU-1", 5)))

    reads = [vendor.df_status(transaction_id).json() for _ in range(5)]

    assert {r["payload"]["transactionStatus"]["status"] for r in reads} == {"Processing"}
    assert vendor.running.sandbox.stock == {}


def test_more_polls_can_be_required_before_the_outcome_shows(
    start: StartSandbox, connect: Connect
) -> None:
    vendor = connect(start(polls_until_final=3))
    transaction_id = vendor.submit_inventory(inventory(item("SKU-1")))

    statuses = [
        vendor.df_status(transaction_id).json()["payload"]["transactionStatus"]["status"]
        for _ in range(4)
    ]

    assert statuses == ["Processing", "Processing", "Processing", "Success"]


def test_the_outcome_also_shows_once_enough_time_has_passed(
    start: StartSandbox, connect: Connect, clock: ManualClock
) -> None:
    vendor = connect(start(polls_until_final=100, seconds_until_final=30))
    clock.advance(0.1)  # a clock off the whole second: 1000.1 + 30 - 1000.1 < 30 in floats
    transaction_id = vendor.submit_inventory(inventory(item("SKU-1")))
    assert vendor.df_status(transaction_id).json()["payload"]["transactionStatus"]["status"] == (
        "Processing"
    )

    clock.advance(30)

    assert vendor.df_status(transaction_id).json()["payload"]["transactionStatus"]["status"] == (
        "Success"
    )


def test_marketplace_query_parameters_and_an_odd_host_are_tolerated(vendor: Vendor) -> None:
    transaction_id = vendor.submit_inventory(inventory(item("SKU-1")))
    port = vendor.running.url.rsplit(":", 1)[1]

    response = vendor.http.get(
        DF_STATUS_PATH.format(transaction_id),
        params={
            "MarketplaceId": "ATVPDKIKX0DER",
            "MarketplaceIds": "ATVPDKIKX0DER",
            "marketplace_ids": "ATVPDKIKX0DER",
            "marketplaceIds": "ATVPDKIKX0DER",
        },
        headers={**vendor.headers, "host": f"27.0.0.1:{port}"},
    )

    assert response.status_code == 200


def test_the_state_endpoint_and_reset_serve_out_of_process_callers(vendor: Vendor) -> None:
    vendor.submit_inventory(inventory(item("SKU-1", 5)))
    vendor.submit_invoices(credit_note("CN-1"))

    state = httpx.get(vendor.running.url + "/_sandbox/state").json()

    assert state["stock"] == [{"warehouseId": "W1", "identifier": "SKU-1", "availableQuantity": 5}]
    assert set(state["credit_notes"]) == {"CN-1"}
    assert state["counters"]["submitInventoryUpdate"]["accepted"] == 1
    assert state["token_requests"] == 1
    assert "client_secret" not in state["config"]

    reset = httpx.post(vendor.running.url + "/_sandbox/reset", json={"reject_rate": 0.25})

    assert reset.status_code == 200
    assert vendor.running.sandbox.config.reject_rate == 0.25
    assert vendor.running.sandbox.stock == {}
    assert httpx.post(vendor.running.url + "/_sandbox/reset", json={"nope": 1}).status_code == 400


def test_an_injected_rejection_sticks_to_the_item_across_resends() -> None:
    from returnbridge.sandboxes.amazon.processing import stable_draw

    draws = {f"CAS-{n}": stable_draw(7, f"CAS-{n}") for n in range(400)}
    assert draws == {k: stable_draw(7, k) for k in draws}  # same seed, same item: same fate
    assert draws != {k: stable_draw(8, k) for k in draws}
    rejected = [k for k, d in draws.items() if d < 0.05]
    assert 5 <= len(rejected) <= 40  # about the rate asked for
