"""Numbers Amazon already holds: a duplicate invoice number is refused, the first is kept; and
records rejected again on a resend are one rejected record."""

from __future__ import annotations

from typing import Any

import httpx
from amazon_sandbox_support import (
    Connect,
    StartSandbox,
    Vendor,
    credit_note,
    inventory,
    invoice,
    item,
)

from returnbridge.sandboxes.amazon import RejectedItem, SandboxConfig


def _errors(status: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["details"]) for e in status["errors"]]


def test_a_credit_note_resent_after_success_is_refused_and_the_first_kept(vendor: Vendor) -> None:
    first_note = credit_note("CN-1", rmaId="RMA-1")
    first = vendor.submit_invoices(first_note)

    resend = vendor.submit_invoices(credit_note("CN-1", rmaId="RMA-2"), credit_note("CN-2"))

    assert vendor.final_status(first, retail=True)["status"] == "Success"
    status = vendor.final_status(resend, retail=True)
    assert status["status"] == "Failure"
    assert _errors(status) == [("DuplicateInvoice", "invoices[0]")]
    assert status["errors"][0]["message"] == (
        "CreditNote 'CN-1' has already been submitted; Amazon keeps the first."
    )
    sandbox = vendor.running.sandbox
    assert sandbox.credit_notes == {"CN-1": first_note}  # CN-2 fell with its transaction
    assert sandbox.duplicate_credit_notes == 1
    assert sandbox.duplicate_credit_note_ids == ["CN-1"]
    assert sandbox.failed_transaction_items == 2
    assert sandbox.rejected_items == []
    assert sandbox.rejected_records() == set()
    assert sandbox.refused_duplicates == [
        RejectedItem(resend, 0, "DuplicateInvoice", "invoice", "CN-1")
    ]


def test_the_same_new_number_twice_in_one_request_fails_it_and_applies_nothing(
    vendor: Vendor,
) -> None:
    twice = vendor.submit_invoices(credit_note("CN-7"), credit_note("CN-7"))

    status = vendor.final_status(twice, retail=True)
    assert status["status"] == "Failure"
    assert _errors(status) == [("DuplicateInvoice", "invoices[1]")]
    sandbox = vendor.running.sandbox
    assert sandbox.credit_notes == {}
    assert sandbox.duplicate_credit_notes == 1
    assert sandbox.failed_transaction_items == 2
    # Nothing was held, so the number is still free.
    once = vendor.submit_invoices(credit_note("CN-7"))
    assert vendor.final_status(once, retail=True)["status"] == "Success"
    assert set(sandbox.credit_notes) == {"CN-7"}


def test_a_resent_invoice_is_refused_but_not_counted_as_a_credit_note(vendor: Vendor) -> None:
    vendor.submit_invoices(invoice("INV-2"))

    resend = vendor.submit_invoices(invoice("INV-2"))

    status = vendor.final_status(resend, retail=True)
    assert _errors(status) == [("DuplicateInvoice", "invoices[0]")]
    assert status["errors"][0]["message"].startswith("Invoice 'INV-2' has already been submitted")
    assert vendor.running.sandbox.duplicate_credit_notes == 0
    assert vendor.running.sandbox.duplicate_credit_note_ids == []


def test_a_duplicate_is_refused_for_its_number_not_also_drawn_for_rejection(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(polls_until_final=0)
    vendor = connect(running)
    vendor.submit_invoices(credit_note("CN-1"))
    running.sandbox.reconfigure(SandboxConfig(reject_rate=1.0, polls_until_final=0))

    resend = vendor.submit_invoices(credit_note("CN-1"), credit_note("CN-2"))

    status = vendor.final_status(resend, retail=True)
    assert _errors(status) == [("DuplicateInvoice", "invoices[0]"), ("Rejected", "invoices[1]")]
    sandbox = running.sandbox
    assert sandbox.rejected_items == [RejectedItem(resend, 1, "Rejected", "invoice", "CN-2")]
    assert [r.record for r in sandbox.refused_duplicates] == ["CN-1"]


def test_a_duplicate_still_reports_its_unknown_references(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(known_invoices={"INV-1"}, polls_until_final=0)
    vendor = connect(running)

    both = vendor.submit_invoices(
        credit_note("CN-1", reference="INV-X"), credit_note("CN-1", reference="INV-X")
    )

    assert _errors(vendor.final_status(both, retail=True)) == [
        ("UnknownReference", "invoices[0].items[0]"),
        ("DuplicateInvoice", "invoices[1]"),
        ("UnknownReference", "invoices[1].items[0]"),
    ]
    sandbox = running.sandbox
    assert [r.code for r in sandbox.rejected_items] == ["UnknownReference", "UnknownReference"]
    assert [r.code for r in sandbox.refused_duplicates] == ["DuplicateInvoice"]
    assert sandbox.rejected_records() == {("invoice", "CN-1")}


def test_a_record_rejected_in_two_transactions_is_one_rejected_record(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(known_items={"SKU-1"}, polls_until_final=0)
    vendor = connect(running)
    update = inventory(item("SKU-1", 3), item("SKU-404", 1))

    first = vendor.submit_inventory(update, "W1")
    resent = vendor.submit_inventory(update, "W1")  # say, its answer was lost

    sandbox = running.sandbox
    for transaction_id in (first, resent):
        assert vendor.final_status(transaction_id)["status"] == "Failure"
    assert len(sandbox.rejected_items) == 2
    assert sandbox.rejected_records() == {("inventory", "W1/SKU-404")}
    assert sandbox.failed_transaction_items == 4

    vendor.submit_inventory(update, "W2")  # the same item elsewhere is another record

    assert sandbox.rejected_records() == {("inventory", "W1/SKU-404"), ("inventory", "W2/SKU-404")}


def test_the_state_endpoint_shows_rejected_records_and_refused_duplicates(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(known_items={"SKU-1"}, polls_until_final=0)
    vendor = connect(running)
    rejected = vendor.submit_inventory(inventory(item("SKU-404")))
    vendor.submit_inventory(inventory(item("SKU-404")))
    vendor.submit_invoices(credit_note("CN-1"))
    refused = vendor.submit_invoices(credit_note("CN-1"))

    state = httpx.get(running.url + "/_sandbox/state").json()

    assert state["rejected_records"] == [["inventory", "W1/SKU-404"]]
    assert len(state["rejected_items"]) == 2
    assert state["rejected_items"][0] == {
        "transactionId": rejected,
        "index": 0,
        "code": "InvalidItem",
        "kind": "inventory",
        "record": "W1/SKU-404",
    }
    assert state["refused_duplicates"] == [
        {
            "transactionId": refused,
            "index": 0,
            "code": "DuplicateInvoice",
            "kind": "invoice",
            "record": "CN-1",
        }
    ]
    assert state["duplicate_credit_notes"] == 1
    assert state["duplicate_credit_note_ids"] == ["CN-1"]
