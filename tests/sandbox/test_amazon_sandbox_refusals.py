"""The sandbox refuses credentials as Amazon does: LWA's ``invalid_client`` (401) and
``invalid_grant`` (400) in LWA's words, and SP-API's 403 ``Unauthorized`` to a valid token for
an operation the vendor did not grant the app (``unauthorized_operations``)."""

from __future__ import annotations

import httpx
import pytest
from amazon_sandbox_support import Connect, StartSandbox, inventory, item, token_form

from returnbridge.sandboxes.amazon import SandboxConfig

DENIED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}


def test_lwa_answers_a_wrong_secret_401_invalid_client(start: StartSandbox) -> None:
    running = start()

    response = httpx.post(running.lwa_url, data=token_form(client_secret="wrong"))

    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
    }


def test_lwa_answers_an_unknown_refresh_token_400_invalid_grant_in_its_own_words(
    start: StartSandbox,
) -> None:
    running = start()

    response = httpx.post(running.lwa_url, data=token_form(refresh_token="Atzr|revoked"))

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The request has an invalid grant parameter : refresh_token. "
        "User may have revoked or didn't grant the permission.",
    }
    assert running.sandbox.tokens_issued == 0


def test_an_operation_not_granted_is_denied_to_a_valid_token_and_others_still_go(
    start: StartSandbox, connect: Connect
) -> None:
    running = start(unauthorized_operations={"submitInventoryUpdate"})
    vendor = connect(running)

    denied = vendor.post_inventory(inventory(item("SKU-1")))

    assert denied.status_code == 403
    assert denied.json() == DENIED
    assert denied.headers["x-amzn-RequestId"]
    assert running.sandbox.stock == {}
    assert running.sandbox.tokens_issued == 1  # the token itself is good
    assert vendor.df_status("unknown").status_code == 404  # a granted operation answers


def test_every_operation_can_be_denied(start: StartSandbox, connect: Connect) -> None:
    running = start(
        unauthorized_operations={
            "submitInventoryUpdate",
            "submitInvoices",
            "getTransactionStatus",
            "getTransaction",
        }
    )
    vendor = connect(running)

    answers = [
        vendor.post_inventory(inventory(item("SKU-1"))),
        vendor.post_invoices(),
        vendor.df_status("tx"),
        vendor.retail_status("tx"),
    ]

    assert [a.status_code for a in answers] == [403] * 4
    assert all(a.json() == DENIED for a in answers)


def test_the_role_can_be_granted_later_over_http(start: StartSandbox, connect: Connect) -> None:
    running = start(unauthorized_operations={"submitInventoryUpdate"})
    vendor = connect(running)
    assert vendor.post_inventory(inventory(item("SKU-1"))).status_code == 403

    reset = httpx.post(running.url + "/_sandbox/reset", json={"unauthorized_operations": []})

    assert reset.status_code == 200
    assert reset.json()["config"]["unauthorized_operations"] == []
    vendor = connect(running)  # a reset forgets the tokens issued
    assert vendor.post_inventory(inventory(item("SKU-1"))).status_code == 202


def test_an_operation_the_sandbox_does_not_serve_is_refused_as_a_knob() -> None:
    with pytest.raises(ValueError, match="unauthorized_operations"):
        SandboxConfig(unauthorized_operations=frozenset({"submitInventory"}))
    assert SandboxConfig(unauthorized_operations=frozenset({"getTransaction"})).public_dict()[
        "unauthorized_operations"
    ] == ["getTransaction"]
