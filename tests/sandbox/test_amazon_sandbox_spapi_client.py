"""The sandbox driven by the real python-amazon-sp-api client, as the connector will drive Amazon.

The library has no setting for either URL: the LWA URL comes from a subclass of
``AccessTokenClient`` and the API URL from assigning ``client.endpoint`` after construction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from amazon_sandbox_support import StartSandbox, credit_note, inventory, item
from sp_api.api import (
    VendorDirectFulfillmentInventory,
    VendorDirectFulfillmentTransactions,
    VendorInvoices,
    VendorTransactionStatus,
)
from sp_api.auth import AccessTokenClient
from sp_api.auth import access_token_client as token_module
from sp_api.auth._core import build_cache_key
from sp_api.base import (
    SellingApiBadRequestException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
    SellingApiServerException,
    SellingApiTemporarilyUnavailableException,
)

from returnbridge.sandboxes.amazon import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox


@dataclass
class SpApi:
    inventory: Any
    invoices: Any
    df_status: Any
    retail_status: Any

    def all(self) -> tuple[Any, ...]:
        return (self.inventory, self.invoices, self.df_status, self.retail_status)


def token_client_for(running: RunningSandbox) -> type[AccessTokenClient]:
    """An LWA token client pointed at the sandbox (the library's only hook for the LWA URL)."""
    return type(
        "SandboxTokenClient",
        (AccessTokenClient,),
        {"scheme": "http://", "host": urlsplit(running.url).netloc, "path": "/auth/o2/token"},
    )


@pytest.fixture(scope="module")
def clients(server: RunningSandbox) -> Iterator[tuple[SpApi, str]]:
    """The four library clients, pointed at the sandbox; built once (each costs two TLS setups)."""
    # The library caches LWA tokens process-wide by refresh token: a refresh token of our own
    # keeps any other test's (or another sandbox's) token out of this module.
    refresh_token = f"Atzr|sp-api-{uuid.uuid4().hex}"
    credentials = {
        "refresh_token": refresh_token,
        "lwa_app_id": DEFAULT_CLIENT_ID,
        "lwa_client_secret": DEFAULT_CLIENT_SECRET,
    }
    common = {"credentials": credentials, "auth_token_client_class": token_client_for(server)}
    api = SpApi(
        VendorDirectFulfillmentInventory(**common),
        VendorInvoices(**common),
        VendorDirectFulfillmentTransactions(**common),
        VendorTransactionStatus(**common),
    )
    for client in api.all():
        client.endpoint = server.url
    yield api, refresh_token
    for client in api.all():
        client.close()
        # Client.close() leaves the token client's own httpx.Client open.
        client._auth._transport.close()
    token_module.cache.pop(build_cache_key(refresh_token), None)


@pytest.fixture
def sp_api(clients: tuple[SpApi, str], start: StartSandbox) -> tuple[SpApi, RunningSandbox]:
    """The clients, and the sandbox reset to accept their refresh token."""
    api, refresh_token = clients
    return api, start(refresh_tokens={refresh_token})


def test_inventory_and_credit_notes_go_through_the_real_client(
    sp_api: tuple[SpApi, RunningSandbox],
) -> None:
    api, running = sp_api

    submitted = api.inventory.submit_inventory_update("W1", inventory=inventory(item("SKU-1", 4)))
    inventory_tx = submitted.payload["transactionId"]
    first = api.df_status.get_transaction_status(inventory_tx)
    second = api.df_status.get_transaction_status(inventory_tx)

    assert float(submitted.rate_limit) == 10.0
    assert first.payload["transactionStatus"]["status"] == "Processing"
    assert second.payload["transactionStatus"] == {
        "transactionId": inventory_tx,
        "status": "Success",
    }
    assert running.sandbox.stock == {("W1", "SKU-1"): 4}

    sent = api.invoices.submit_invoices({"invoices": [credit_note("CN-1")]})
    invoices_tx = sent.payload["transactionId"]
    api.retail_status.get_transaction(invoices_tx)
    final = api.retail_status.get_transaction(invoices_tx)

    assert final.payload["transactionStatus"]["status"] == "Success"
    assert set(running.sandbox.credit_notes) == {"CN-1"}
    # Four clients, one refresh token: the library's cache asked LWA at most once.
    assert running.sandbox.token_requests <= 1


def test_a_failed_transaction_reaches_the_client_as_a_payload_not_an_exception(
    sp_api: tuple[SpApi, RunningSandbox],
) -> None:
    api, running = sp_api
    running.sandbox.reset(
        replace(running.sandbox.config, known_invoices={"INV-1"}, polls_until_final=0)
    )

    sent = api.invoices.submit_invoices({"invoices": [credit_note("CN-1", reference="INV-X")]})
    status = api.retail_status.get_transaction(sent.payload["transactionId"]).payload

    assert status["transactionStatus"]["status"] == "Failure"
    assert status["transactionStatus"]["errors"][0]["code"] == "UnknownReference"


def test_error_answers_become_the_librarys_exceptions(sp_api: tuple[SpApi, RunningSandbox]) -> None:
    api, _ = sp_api
    bad = credit_note("CN-1", returnsReferenceNumber=None)

    with pytest.raises(SellingApiBadRequestException) as refused:
        api.invoices.submit_invoices({"invoices": [bad]})
    with pytest.raises(SellingApiNotFoundException):
        api.retail_status.get_transaction("no-such-transaction")

    assert refused.value.amzn_code == "InvalidInput"
    assert "returnsReferenceNumber" in refused.value.message


@pytest.mark.parametrize(
    ("knobs", "raised"),
    [
        ({"throttle_storm_rate": 1.0}, SellingApiRequestThrottledException),
        # 500 or 503 is a seeded draw: these seeds give one of each.
        ({"error_rate": 1.0, "seed": 1}, SellingApiServerException),
        ({"error_rate": 1.0, "seed": 0}, SellingApiTemporarilyUnavailableException),
        ({"drop_rate": 1.0}, httpx.RemoteProtocolError),
    ],
)
def test_faults_reach_the_client_as(
    sp_api: tuple[SpApi, RunningSandbox], knobs: dict[str, Any], raised: type[Exception]
) -> None:
    api, running = sp_api
    running.sandbox.reset(replace(running.sandbox.config, **knobs))

    with pytest.raises(raised):
        api.inventory.submit_inventory_update("W1", inventory=inventory(item("SKU-1")))
