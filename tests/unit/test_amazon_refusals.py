"""The SP-API connector turns each refusal of its credentials into a typed error that names the
setting to check, never retries it and never repeats a secret; LWA or SP-API failing (not
refusing) is still retried.

Amazon is scripted on the wire (an ``httpx.MockTransport`` under python-amazon-sp-api), so the
library raises its own exceptions from the answers Amazon gives: ``AuthorizationError`` for
LWA, ``SellingApiForbiddenException`` for a 403."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

import httpx
import pytest
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base.exceptions import SellingApiForbiddenException

from returnbridge.connectors.amazon.limits import RetryPolicy
from returnbridge.connectors.amazon.refusals import SettingNames
from returnbridge.connectors.amazon.spapi import SpApiConfig, SpApiVendor
from returnbridge.domain.errors import (
    AmazonAccessDenied,
    AmazonAuthRefused,
    AmazonClientRefused,
    AmazonGrantRefused,
    AmazonUnavailable,
)
from returnbridge.services.ports import CreditNote, CreditNoteLine, InventoryPosition

SECRET = "amzn1.oa2-cs.v1.the-client-secret"
REFRESH_TOKEN = "Atzr|IwEBI-the-refresh-token"
CONFIG = SpApiConfig(
    endpoint="https://sellingpartnerapi-eu.amazon.test",
    lwa_url="https://api.amazon.test/auth/o2/token",
    client_id="amzn1.application-oa2-client.returnbridge",
    client_secret=SECRET,
    refresh_token=REFRESH_TOKEN,
    selling_party="CASTORE",
    remit_to_party="CASTORE",
)
TOKEN = {"access_token": "Atza|token", "token_type": "bearer", "expires_in": 3600}
DENIED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}
WHEN = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class ScriptedAmazon:
    """LWA and SP-API answering from scripts; the last answer of a script repeats."""

    def __init__(self, lwa: list[httpx.Response], spapi: list[httpx.Response]) -> None:
        self.lwa = lwa
        self.spapi = spapi
        self.token_requests = 0
        self.vendor_requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            self.token_requests += 1
            return self.lwa.pop(0) if len(self.lwa) > 1 else self.lwa[0]
        self.vendor_requests += 1
        return self.spapi.pop(0) if len(self.spapi) > 1 else self.spapi[0]


def lwa_error(status: int, error: str, description: str) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "error_description": description})


class Connect(Protocol):
    def __call__(self, amazon: ScriptedAmazon, config: SpApiConfig = ...) -> SpApiVendor: ...


ACCEPTED = httpx.Response(202, json={"payload": {"transactionId": "tx-1"}})
ISSUED = httpx.Response(200, json=TOKEN)


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def connect(slept: list[float]) -> Iterator[Connect]:
    vendors: list[SpApiVendor] = []

    def _connect(amazon: ScriptedAmazon, config: SpApiConfig = CONFIG) -> SpApiVendor:
        vendor = SpApiVendor(
            config,
            retry=RetryPolicy(attempts=4, base_seconds=0.0, cap_seconds=0.0),
            rng=random.Random(1),
            sleep=slept.append,
        )
        # The library builds its own httpx clients; swap in ones that reach the script.
        for client in (
            vendor._inventory,
            vendor._invoices,
            vendor._df_status,
            vendor._retail_status,
        ):
            for transport in (client._transport, client._auth._transport):
                transport._client.close()
                transport._client = httpx.Client(transport=httpx.MockTransport(amazon))
        vendors.append(vendor)
        return vendor

    yield _connect
    for vendor in vendors:
        vendor.close()


def credit_note() -> CreditNote:
    line = CreditNoteLine("CAS-1", "B0CAS12345", 1, 2050)
    return CreditNote("CN-1", WHEN, "GBP", "ZZR-1", WHEN, (line,), rma_id="RMA1")


def submit(vendor: SpApiVendor) -> str:
    return vendor.submit_inventory("AMZ-UK1", [InventoryPosition("CAS-1", None, 3)])


def test_a_wrong_client_secret_names_the_client_settings_and_is_not_retried(
    connect: Connect, slept: list[float]
) -> None:
    amazon = ScriptedAmazon([lwa_error(401, "invalid_client", "Client authentication failed")], [])
    vendor = connect(amazon)

    with pytest.raises(AmazonClientRefused) as refused:
        submit(vendor)

    error = refused.value
    assert error.code == "amazon.client_refused"
    assert isinstance(error.__cause__, AuthorizationError)
    assert "RETURNBRIDGE_AMAZON_CLIENT_ID" in error.message
    assert "RETURNBRIDGE_AMAZON_CLIENT_SECRET" in error.message
    assert "invalid_client" in error.message
    assert (amazon.token_requests, amazon.vendor_requests, slept) == (1, 0, [])


def test_a_refresh_token_lwa_refuses_asks_for_a_new_authorisation(
    connect: Connect, slept: list[float]
) -> None:
    description = (
        "The request has an invalid grant parameter : refresh_token. "
        "User may have revoked or didn't grant the permission."
    )
    amazon = ScriptedAmazon([lwa_error(400, "invalid_grant", description)], [])
    vendor = connect(amazon)

    with pytest.raises(AmazonGrantRefused) as refused:
        vendor.submit_credit_notes([credit_note()])

    error = refused.value
    assert error.code == "amazon.grant_refused"
    assert isinstance(error.__cause__, AuthorizationError)
    assert "RETURNBRIDGE_AMAZON_REFRESH_TOKEN" in error.message
    assert "authorise the app again" in error.message
    assert (amazon.token_requests, amazon.vendor_requests, slept) == (1, 0, [])


def test_any_other_lwa_refusal_is_a_refusal_too(connect: Connect, slept: list[float]) -> None:
    amazon = ScriptedAmazon(
        [lwa_error(400, "unauthorized_client", "Not authorized for requested operation")], []
    )
    vendor = connect(amazon)

    with pytest.raises(AmazonAuthRefused) as refused:
        submit(vendor)

    assert type(refused.value) is AmazonAuthRefused
    assert refused.value.code == "amazon.auth_refused"
    assert "unauthorized_client" in refused.value.message
    assert slept == []


def test_a_refusal_never_repeats_a_secret_even_when_amazon_echoes_it(
    connect: Connect,
) -> None:
    echoed = f"bad client_secret {SECRET} for refresh_token {REFRESH_TOKEN}\nsecond line"
    vendor = connect(ScriptedAmazon([lwa_error(401, "invalid_client", echoed)], []))

    with pytest.raises(AmazonClientRefused) as refused:
        submit(vendor)

    message = refused.value.message
    assert SECRET not in message and REFRESH_TOKEN not in message
    assert "[redacted]" in message and "\n" not in message
    assert SECRET not in repr(CONFIG) and REFRESH_TOKEN not in repr(CONFIG)


def test_a_refusal_names_the_settings_the_config_came_from(connect: Connect) -> None:
    names = SettingNames(
        client_id="RETURNBRIDGE_AMAZON_DE_CLIENT_ID",
        client_secret="RETURNBRIDGE_AMAZON_DE_CLIENT_SECRET",
    )
    amazon = ScriptedAmazon([lwa_error(401, "invalid_client", "Client authentication failed")], [])
    vendor = connect(amazon, replace(CONFIG, names=names))

    with pytest.raises(AmazonClientRefused) as refused:
        submit(vendor)

    assert "RETURNBRIDGE_AMAZON_DE_CLIENT_ID and RETURNBRIDGE_AMAZON_DE_CLIENT_SECRET" in (
        refused.value.message
    )


def test_a_403_a_fresh_token_meets_too_is_access_denied_naming_party_and_region(
    connect: Connect, slept: list[float]
) -> None:
    amazon = ScriptedAmazon([ISSUED], [httpx.Response(403, json=DENIED)])
    vendor = connect(amazon)

    with pytest.raises(AmazonAccessDenied) as refused:
        submit(vendor)

    error = refused.value
    assert error.code == "amazon.access_denied"
    assert isinstance(error.__cause__, SellingApiForbiddenException)
    assert "submitInventoryUpdate" in error.message
    assert "RETURNBRIDGE_AMAZON_SELLING_PARTY (CASTORE)" in error.message
    assert "RETURNBRIDGE_AMAZON_REGION or RETURNBRIDGE_AMAZON_ENDPOINT" in error.message
    assert "(now sellingpartnerapi-eu.amazon.test)" in error.message
    # One renewal of the token (it may have expired), then no more: no backoff, no retries.
    assert (amazon.token_requests, amazon.vendor_requests, slept) == (2, 2, [])


def test_a_status_poll_amazon_denies_is_access_denied_too(
    connect: Connect,
) -> None:
    vendor = connect(ScriptedAmazon([ISSUED], [httpx.Response(403, json=DENIED)]))

    with pytest.raises(AmazonAccessDenied, match="getTransactionStatus"):
        vendor.inventory_status("tx-1")


def test_a_token_that_expired_is_renewed_once_and_the_request_goes(
    connect: Connect, slept: list[float]
) -> None:
    amazon = ScriptedAmazon([ISSUED], [httpx.Response(403, json=DENIED), ACCEPTED])
    vendor = connect(amazon)

    assert submit(vendor) == "tx-1"
    assert (amazon.token_requests, amazon.vendor_requests, slept) == (2, 2, [])


def test_lwa_failing_rather_than_refusing_is_retried(connect: Connect, slept: list[float]) -> None:
    unwell = lwa_error(503, "temporarily_unavailable", "Service unavailable")
    amazon = ScriptedAmazon([unwell, ISSUED], [ACCEPTED])
    vendor = connect(amazon)

    assert submit(vendor) == "tx-1"
    assert (amazon.token_requests, amazon.vendor_requests, len(slept)) == (2, 1, 1)
    assert vendor.stats.server_errors == 1 and vendor.stats.retries == 1


def test_lwa_failing_every_time_is_amazon_unavailable_not_a_refusal(
    connect: Connect,
) -> None:
    vendor = connect(ScriptedAmazon([lwa_error(500, "server_error", "Internal error")], []))

    with pytest.raises(AmazonUnavailable):
        submit(vendor)


def test_a_refusal_is_not_amazon_being_unavailable() -> None:
    # The cycle leaves Amazon-unavailable work for the next run and goes on; a refusal stops it.
    for refusal in (AmazonClientRefused, AmazonGrantRefused, AmazonAccessDenied):
        assert issubclass(refusal, AmazonAuthRefused)
        assert not issubclass(refusal, AmazonUnavailable)
    codes = {c.code for c in (AmazonAuthRefused, AmazonClientRefused, AmazonGrantRefused)}
    assert len(codes | {AmazonAccessDenied.code}) == 4
