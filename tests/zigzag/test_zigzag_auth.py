"""ZigZag's auth, as published: API username and password to a 30-minute JWT, sent as bearer."""

from __future__ import annotations

import httpx
import jwt
import pytest
from zigzag_support import MakeClient, StartZigZag

from returnbridge.connectors.zigzag.polling import ZigZagAuthRefused
from returnbridge.sandboxes.zigzag import DEFAULT_PASSWORD, DEFAULT_USERNAME, ManualClock

pytestmark = pytest.mark.integration

CREDENTIALS = {"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}
FORGED = jwt.encode(
    {"sub": DEFAULT_USERNAME, "iat": 0, "exp": 2**40}, "not the sandbox's key, but long enough"
)


def test_the_token_endpoint_issues_a_jwt_valid_thirty_minutes_for_json_or_form(
    zigzag: StartZigZag,
) -> None:
    running = zigzag()
    for answer in (
        httpx.post(running.token_url, json=CREDENTIALS),
        httpx.post(running.token_url, data=CREDENTIALS),
    ):
        assert answer.status_code == 200
        body = answer.json()
        claims = jwt.decode(body["token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 1800 == body["expires_in"]
        assert claims["sub"] == DEFAULT_USERNAME
    assert running.sandbox.counters.tokens_issued == 2


def test_wrong_credentials_get_401_and_no_token(zigzag: StartZigZag) -> None:
    running = zigzag()
    answer = httpx.post(running.token_url, json={**CREDENTIALS, "password": "guess"})
    assert answer.status_code == 401
    assert "token" not in answer.json()
    assert running.sandbox.counters.tokens_refused == 1


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", f"Bearer {FORGED}"],
)
def test_the_feed_refuses_a_request_without_a_live_bearer_token(
    zigzag: StartZigZag, authorization: str | None
) -> None:
    running = zigzag()
    headers = {"authorization": authorization} if authorization else {}
    answer = httpx.get(running.events_url, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_an_expired_token_gets_401_and_the_client_renews_it_once(
    zigzag: StartZigZag, sandbox_clock: ManualClock, feed_client: MakeClient
) -> None:
    running = zigzag(returns=5)
    client = feed_client(running)  # on the real clock: it cannot see the token expire
    client.fetch_page(None)
    sandbox_clock.advance(31 * 60)

    page = client.fetch_page(None)

    assert page.events
    assert client.counters.tokens == 2
    assert client.counters.renewals_after_401 == 1
    assert running.sandbox.counters.unauthorized == 1


def test_the_client_renews_a_token_before_it_expires(
    zigzag: StartZigZag, sandbox_clock: ManualClock, feed_client: MakeClient
) -> None:
    running = zigzag(returns=5)
    client_clock = ManualClock()
    client = feed_client(running, clock=client_clock)
    client.fetch_page(None)
    first = client.token()
    client_clock.advance(29 * 60 + 30)  # inside the renewal margin
    sandbox_clock.advance(29 * 60 + 30)

    client.fetch_page(None)

    assert client.token() != first
    assert client.counters.tokens == 2
    assert client.counters.renewals_after_401 == 0
    assert running.sandbox.counters.unauthorized == 0


def test_a_client_with_wrong_credentials_is_refused_by_name(
    zigzag: StartZigZag, feed_client: MakeClient
) -> None:
    client = feed_client(zigzag(), password="guess")
    with pytest.raises(ZigZagAuthRefused, match="RETURNBRIDGE_ZIGZAG_API_PASSWORD"):
        client.fetch_page(None)
