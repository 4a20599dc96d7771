"""Bodies that break a model rule get 400 with one ``InvalidInput`` error per problem."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from amazon_sandbox_support import INVENTORY_PATH, Vendor, credit_note, inventory, invoice, item

from returnbridge.sandboxes.amazon import RunningSandbox
from returnbridge.sandboxes.amazon.catalog import load_catalog, response_validator


def invalid_input(response: httpx.Response, operation: str) -> list[dict[str, str]]:
    """The errors of a 400, after checking its shape against the operation's own model."""
    assert response.status_code == 400, response.text
    body = response.json()
    response_validator(operation, 400).validate(body)
    assert response.headers["x-amzn-RateLimit-Limit"] == "10.0"
    assert response.headers["x-amzn-RequestId"]
    errors: list[dict[str, str]] = body["errors"]
    assert errors
    assert {e["code"] for e in errors} == {"InvalidInput"}
    return errors


def messages(errors: list[dict[str, str]]) -> list[str]:
    return [e["message"] for e in errors]


def test_an_inventory_update_without_selling_party_is_refused(vendor: Vendor) -> None:
    body = inventory(item("SKU-1"))
    del body["sellingParty"]

    errors = invalid_input(vendor.post_inventory(body), "submitInventoryUpdate")

    assert messages(errors) == ["$.inventory.sellingParty is required but missing"]
    assert "required" in errors[0]["details"]
    assert vendor.running.sandbox.transactions == {}


def test_a_quantity_sent_as_a_string_is_refused(vendor: Vendor) -> None:
    errors = invalid_input(
        vendor.post_inventory(inventory(item("SKU-1", amount="5"))), "submitInventoryUpdate"
    )

    assert messages(errors) == [
        "$.inventory.items[0].availableQuantity.amount is invalid: '5' is not of type 'integer'"
    ]


def test_an_item_without_any_identifier_is_refused(vendor: Vendor) -> None:
    nameless = {"availableQuantity": {"amount": 1, "unitOfMeasure": "Each"}}

    errors = invalid_input(
        vendor.post_inventory(inventory(item("SKU-1"), nameless)), "submitInventoryUpdate"
    )

    assert messages(errors) == [
        "$.inventory.items[1] needs buyerProductIdentifier or vendorProductIdentifier"
    ]


def test_every_problem_of_a_body_is_reported_once(vendor: Vendor) -> None:
    body: dict[str, Any] = {"isFullUpdate": "yes", "items": [{"vendorProductIdentifier": 7}]}

    errors = invalid_input(vendor.post_inventory(body), "submitInventoryUpdate")

    assert sorted(messages(errors)) == [
        "$.inventory.isFullUpdate is invalid: 'yes' is not of type 'boolean'",
        "$.inventory.items[0].availableQuantity is required but missing",
        "$.inventory.items[0].vendorProductIdentifier is invalid: 7 is not of type 'string'",
        "$.inventory.sellingParty is required but missing",
    ]


def test_an_unknown_invoice_type_is_refused(vendor: Vendor) -> None:
    note = credit_note("CN-1")
    note["invoiceType"] = "Invoic"

    errors = invalid_input(vendor.post_invoices(note), "submitInvoices")

    assert messages(errors) == [
        "$.invoices[0].invoiceType is invalid: 'Invoic' is not one of ['Invoice', 'CreditNote']"
    ]


@pytest.mark.parametrize("field", ["returnsReferenceNumber", "goodsReturnDate"])
def test_a_returns_credit_note_needs_its_returns_references(vendor: Vendor, field: str) -> None:
    errors = invalid_input(
        vendor.post_invoices(credit_note("CN-1", **{field: None})), "submitInvoices"
    )

    assert messages(errors) == [
        f"$.invoices[0].items[0].creditNoteDetails.{field} is required but missing "
        "for a returns credit note"
    ]
    assert "Returns Credit Note" in errors[0]["details"]


def test_a_credit_note_item_without_credit_note_details_is_refused(vendor: Vendor) -> None:
    note = credit_note("CN-1")
    del note["items"][0]["creditNoteDetails"]

    errors = invalid_input(vendor.post_invoices(note), "submitInvoices")

    assert messages(errors) == [
        "$.invoices[0].items[0].creditNoteDetails is required but missing for a returns credit note"
    ]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("invoiceTotal", "amount"), "12,50", "$.invoices[0].invoiceTotal.amount is invalid"),
        (
            ("date",),
            "03/11/2026",
            "$.invoices[0].date is invalid: '03/11/2026' is not a 'date-time'",
        ),
        (("remitToParty", "address", "countryCode"), "DEU", "$.invoices[0].remitToParty.address"),
    ],
)
def test_money_dates_and_country_codes_follow_the_model(
    vendor: Vendor, path: tuple[str, ...], value: str, message: str
) -> None:
    note = credit_note("CN-1")
    if path[0] == "remitToParty":
        note["remitToParty"]["address"] = {"name": "RB", "addressLine1": "1 Road"}
    target = note
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    errors = invalid_input(vendor.post_invoices(note), "submitInvoices")

    assert len(errors) == 1
    assert errors[0]["message"].startswith(message)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("invoicedQuantity", {"amount": 0, "unitOfMeasure": "Eaches"}, "must be greater than zero"),
        ("netCost", {"currencyCode": "EUR", "amount": "-1.00"}, "must not be zero or negative"),
    ],
)
def test_credit_note_quantities_and_costs_must_be_positive(
    vendor: Vendor, field: str, value: dict[str, Any], message: str
) -> None:
    note = credit_note("CN-1")
    note["items"][0][field] = value

    errors = invalid_input(vendor.post_invoices(note), "submitInvoices")

    assert messages(errors) == [
        f"$.invoices[0].items[0].{field}.amount {message}, got {value['amount']}"
    ]


def test_an_invoice_line_needs_a_purchase_order_number(vendor: Vendor) -> None:
    bill = invoice("INV-1")
    del bill["items"][0]["purchaseOrderNumber"]

    errors = invalid_input(vendor.post_invoices(bill), "submitInvoices")

    assert messages(errors) == [
        "$.invoices[0].items[0].purchaseOrderNumber is required but missing for an Invoice"
    ]


def test_a_submission_without_invoices_is_refused(vendor: Vendor) -> None:
    errors = invalid_input(vendor.post_invoices(), "submitInvoices")

    assert messages(errors) == ["$.invoices must list at least one invoice"]


def test_a_body_that_is_not_json_is_refused(vendor: Vendor) -> None:
    response = vendor.http.post(
        INVENTORY_PATH.format("W1"),
        content=b"{not json",
        headers={**vendor.headers, "content-type": "application/json"},
    )

    assert messages(invalid_input(response, "submitInventoryUpdate")) == ["$ is not valid JSON"]


def test_a_body_that_is_not_json_typed_gets_415(vendor: Vendor) -> None:
    response = vendor.http.post(
        INVENTORY_PATH.format("W1"),
        content=b"a=b",
        headers={**vendor.headers, "content-type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "UnsupportedMediaType"


def test_an_unknown_transaction_is_404_with_errors(vendor: Vendor) -> None:
    response = vendor.df_status("no-such-transaction")

    assert response.status_code == 404
    response_validator("getTransactionStatus", 404).validate(response.json())
    assert response.json()["errors"][0]["code"] == "NotFound"
    assert response.headers["x-amzn-RateLimit-Limit"] == "10.0"


def test_each_status_api_knows_only_its_own_transactions(vendor: Vendor) -> None:
    inventory_tx = vendor.submit_inventory(inventory(item("SKU-1")))
    invoices_tx = vendor.submit_invoices(credit_note("CN-1"))

    assert vendor.retail_status(inventory_tx).status_code == 404
    assert vendor.df_status(invoices_tx).status_code == 404
    assert vendor.df_status(inventory_tx).status_code == 200
    assert vendor.retail_status(invoices_tx).status_code == 200


def test_unknown_routes_answer_in_the_errors_shape(amazon: RunningSandbox) -> None:
    response = httpx.get(amazon.url + "/vendor/orders/v1/purchaseOrders")

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NotFound"
    assert response.headers["x-amzn-RequestId"]


def test_the_usage_plans_come_from_the_models() -> None:
    plans = {name: (op.rate, op.burst) for name, op in load_catalog().items()}

    assert plans == {
        "submitInventoryUpdate": (10.0, 10),
        "submitInvoices": (10.0, 10),
        "getTransactionStatus": (10.0, 10),
        "getTransaction": (10.0, 20),
    }
