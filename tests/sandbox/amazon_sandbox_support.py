"""Request builders and a small HTTP client for the Amazon sandbox tests.

Bodies are written here by hand from the models, not borrowed from the connector, so the tests
state Amazon's contract independently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from returnbridge.sandboxes.amazon import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    RunningSandbox,
)
from returnbridge.sandboxes.amazon.catalog import response_validator

INVENTORY_PATH = "/vendor/directFulfillment/inventory/v1/warehouses/{}/items"
INVOICES_PATH = "/vendor/payments/v1/invoices"
DF_STATUS_PATH = "/vendor/directFulfillment/transactions/v1/transactions/{}"
RETAIL_STATUS_PATH = "/vendor/transactions/v1/transactions/{}"

StartSandbox = Callable[..., RunningSandbox]
"""The ``start`` fixture: knobs of ``SandboxConfig`` in, a running sandbox out."""


def item(identifier: str, amount: Any = 1, **extra: Any) -> dict[str, Any]:
    """One inventory ``ItemDetails`` keyed by the vendor's identifier."""
    return {
        "vendorProductIdentifier": identifier,
        "availableQuantity": {"amount": amount, "unitOfMeasure": "Each"},
        **extra,
    }


def inventory(*items: dict[str, Any], full: bool = False) -> dict[str, Any]:
    """An ``InventoryUpdate``."""
    return {"sellingParty": {"partyId": "RBVENDOR"}, "isFullUpdate": full, "items": list(items)}


def money(amount: str) -> dict[str, str]:
    return {"currencyCode": "EUR", "amount": amount}


def credit_note(number: str, *, reference: str | None = None, **details: Any) -> dict[str, Any]:
    """A returns credit note with one line; ``details`` override ``creditNoteDetails``."""
    note_details: dict[str, Any] = {
        "returnsReferenceNumber": f"RN-{number}",
        "goodsReturnDate": "2026-11-02T10:00:00Z",
        **({"referenceInvoiceNumber": reference} if reference else {}),
        **details,
    }
    return {
        "invoiceType": "CreditNote",
        "id": number,
        "date": "2026-11-03T09:00:00Z",
        "remitToParty": {"partyId": "RBVENDOR"},
        "invoiceTotal": money("25.00"),
        "items": [
            {
                "itemSequenceNumber": 1,
                "vendorProductIdentifier": "SKU-1",
                "invoicedQuantity": {"amount": 2, "unitOfMeasure": "Eaches"},
                "netCost": money("12.50"),
                "creditNoteDetails": {k: v for k, v in note_details.items() if v is not None},
            }
        ],
    }


def invoice(number: str) -> dict[str, Any]:
    """A plain invoice with one line."""
    return {
        "invoiceType": "Invoice",
        "id": number,
        "date": "2026-10-01T09:00:00Z",
        "remitToParty": {"partyId": "RBVENDOR"},
        "invoiceTotal": money("12.50"),
        "items": [
            {
                "itemSequenceNumber": 1,
                "purchaseOrderNumber": "PO123456",
                "invoicedQuantity": {"amount": 1, "unitOfMeasure": "Eaches"},
                "netCost": money("12.50"),
            }
        ],
    }


def token_form(**overrides: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "refresh_token": DEFAULT_REFRESH_TOKEN,
        **overrides,
    }


class Vendor:
    """A vendor talking raw HTTP to a running sandbox, with an LWA token fetched on first use."""

    def __init__(self, running: RunningSandbox) -> None:
        self.running = running
        self.http = httpx.Client(base_url=running.url, timeout=10.0)
        self._token: str | None = None

    def close(self) -> None:
        self.http.close()

    @property
    def token(self) -> str:
        if self._token is None:
            response = self.http.post("/auth/o2/token", data=token_form())
            assert response.status_code == 200, response.text
            self._token = str(response.json()["access_token"])
        return self._token

    @property
    def headers(self) -> dict[str, str]:
        return {"x-amz-access-token": self.token}

    def post_inventory(self, body: dict[str, Any], warehouse: str = "W1") -> httpx.Response:
        return self.http.post(
            INVENTORY_PATH.format(warehouse), json={"inventory": body}, headers=self.headers
        )

    def post_invoices(self, *invoices: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            INVOICES_PATH, json={"invoices": list(invoices)}, headers=self.headers
        )

    def df_status(self, transaction_id: str) -> httpx.Response:
        return self.http.get(DF_STATUS_PATH.format(transaction_id), headers=self.headers)

    def retail_status(self, transaction_id: str) -> httpx.Response:
        return self.http.get(RETAIL_STATUS_PATH.format(transaction_id), headers=self.headers)

    def submit_inventory(self, body: dict[str, Any], warehouse: str = "W1") -> str:
        response = self.post_inventory(body, warehouse)
        assert response.status_code == 202, response.text
        return str(response.json()["payload"]["transactionId"])

    def submit_invoices(self, *invoices: dict[str, Any]) -> str:
        response = self.post_invoices(*invoices)
        assert response.status_code == 202, response.text
        return str(response.json()["payload"]["transactionId"])

    def final_status(self, transaction_id: str, *, retail: bool = False) -> dict[str, Any]:
        """Poll until the transaction leaves Processing (a few reads at most), checking each
        answer against the status operation's model."""
        read = self.retail_status if retail else self.df_status
        schema = response_validator("getTransaction" if retail else "getTransactionStatus", 200)
        for _ in range(10):
            response = read(transaction_id)
            assert response.status_code == 200, response.text
            schema.validate(response.json())  # Processing, Success and Failure alike
            status: dict[str, Any] = response.json()["payload"]["transactionStatus"]
            if status["status"] != "Processing":
                return status
        raise AssertionError(f"transaction {transaction_id} still Processing after 10 reads")


Connect = Callable[[RunningSandbox], Vendor]
"""The ``connect`` fixture."""
