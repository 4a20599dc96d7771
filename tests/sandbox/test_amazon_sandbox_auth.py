"""LWA tokens: issued for the configured app and refresh token, required by every vendor route."""

from __future__ import annotations

import httpx
import pytest
from amazon_sandbox_support import (
    INVENTORY_PATH,
    Connect,
    StartSandbox,
    inventory,
    item,
    token_form,
)

from returnbridge.sandboxes.amazon import DEFAULT_REFRESH_TOKEN, ManualClock, RunningSandbox

DENIED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}


def test_a_refresh_token_grant_returns_a_bearer_token(amazon: RunningSandbox) -> None:
    response = httpx.post(amazon.lwa_url, data=token_form())

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == DEFAULT_REFRESH_TOKEN
    assert body["access_token"].startswith("Atza|")
    assert amazon.sandbox.token_requests == 1
    assert amazon.sandbox.tokens_issued == 1


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "amzn1.application-oa2-client.someone-else"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"refresh_token": "Atzr|unknown"}, 400, "invalid_grant"),
    ],
)
def test_lwa_refuses_wrong_credentials_in_its_own_error_shape(
    amazon: RunningSandbox, form: dict[str, str], status: int, error: str
) -> None:
    response = httpx.post(amazon.lwa_url, data=token_form(**form))

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert amazon.sandbox.tokens_issued == 0


def test_any_refresh_token_is_accepted_when_none_are_configured(start: StartSandbox) -> None:
    running = start(refresh_tokens=frozenset())

    response = httpx.post(running.lwa_url, data=token_form(refresh_token="Atzr|anything"))

    assert response.status_code == 200


@pytest.mark.parametrize("token", [None, "Atza|forged"])
def test_vendor_routes_deny_a_missing_or_unknown_token(
    amazon: RunningSandbox, token: str | None
) -> None:
    headers = {"x-amz-access-token": token} if token else {}
    url = amazon.url + INVENTORY_PATH.format("W1")

    response = httpx.post(url, json={"inventory": inventory(item("SKU-1"))}, headers=headers)

    assert response.status_code == 403
    assert response.json() == DENIED
    assert response.headers["x-amzn-RequestId"]
    # The model declares only x-amzn-RequestId on 403.
    assert "x-amzn-RateLimit-Limit" not in response.headers
    assert amazon.sandbox.stock == {}


def test_a_token_stops_working_once_it_expires(
    start: StartSandbox, connect: Connect, clock: ManualClock
) -> None:
    running = start(token_ttl_seconds=60)
    vendor = connect(running)
    assert vendor.post_inventory(inventory(item("SKU-1"))).status_code == 202

    clock.advance(60)

    response = vendor.post_inventory(inventory(item("SKU-1")))
    assert response.status_code == 403
    assert response.json() == DENIED


def test_every_status_route_requires_a_token(amazon: RunningSandbox) -> None:
    for path in (
        "/vendor/directFulfillment/transactions/v1/transactions/x",
        "/vendor/transactions/v1/transactions/x",
    ):
        assert httpx.get(amazon.url + path).status_code == 403
    assert httpx.post(amazon.url + "/vendor/payments/v1/invoices", json={}).status_code == 403
