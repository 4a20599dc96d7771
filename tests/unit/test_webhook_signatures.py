"""Standard Webhooks signature checks of ZigZag deliveries, against the library's own signer."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from returnbridge.connectors.zigzag.webhooks import (
    BadSignature,
    MissingSignature,
    StaleTimestamp,
    WebhookSecretsInvalid,
    WebhookVerifier,
    delivery_record,
    parse_secrets,
)

NOW = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
ONE = "whsec_" + base64.b64encode(b"a-secret-of-thirty-two-bytes-one").decode()
TWO = "whsec_" + base64.b64encode(b"a-secret-of-thirty-two-bytes-two").decode()
BODY = b'{"id": "e-1", "type": "return.cancelled"}'


def headers(secret: str = ONE, at: datetime = NOW, msg_id: str = "msg_1") -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, BODY.decode()),
    }


def verifier(secrets: str = ONE, tolerance: int = 300) -> WebhookVerifier:
    made = WebhookVerifier.from_settings(secrets, tolerance)
    assert made is not None
    return made


def test_a_delivery_signed_by_the_secret_gives_its_message_id() -> None:
    assert verifier().verify(headers(), BODY, NOW) == "msg_1"


def test_any_configured_secret_and_any_listed_signature_may_match() -> None:
    both = verifier(f"{ONE}  {TWO}")
    assert both.verify(headers(TWO), BODY, NOW) == "msg_1"
    listed = headers(TWO)
    listed["webhook-signature"] = f"v1a,AAAA v1,bm9wZQ== junk {listed['webhook-signature']}"
    assert verifier(TWO).verify(listed, BODY, NOW) == "msg_1"


@pytest.mark.parametrize("drift", [-300, 300])
def test_the_window_includes_its_edges(drift: int) -> None:
    at = NOW + timedelta(seconds=drift)
    assert verifier().verify(headers(at=at), BODY, NOW) == "msg_1"


@pytest.mark.parametrize("drift", [-301, 301, -86_400])
def test_a_genuine_delivery_outside_the_window_is_stale(drift: int) -> None:
    at = NOW + timedelta(seconds=drift)
    with pytest.raises(StaleTimestamp, match="the window is 300 s"):
        verifier().verify(headers(at=at), BODY, NOW)


def test_a_forgery_is_a_bad_signature_even_when_it_is_also_stale() -> None:
    old = NOW - timedelta(days=3)
    with pytest.raises(BadSignature):
        verifier(TWO).verify(headers(ONE, at=old), BODY, NOW)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("webhook-signature", "", MissingSignature),
        ("webhook-id", "  ", MissingSignature),
        ("webhook-timestamp", "soon", BadSignature),
        ("webhook-timestamp", "-5", BadSignature),
        ("webhook-timestamp", "99999999999999999999", BadSignature),
        ("webhook-signature", "v1,***", BadSignature),
        ("webhook-signature", "v2,abcd", BadSignature),
        ("webhook-id", "m" * 201, BadSignature),
    ],
)
def test_unreadable_headers_are_refused_with_a_code(
    name: str, value: str, error: type[Exception]
) -> None:
    sent = headers()
    sent[name] = value
    with pytest.raises(error):
        verifier().verify(sent, BODY, NOW)


def test_a_body_that_is_not_utf8_cannot_be_verified() -> None:
    with pytest.raises(BadSignature, match="not UTF-8"):
        verifier().verify(headers(), b"\xff\xfe" + BODY, NOW)


@pytest.mark.parametrize(
    ("secrets", "problem"),
    [
        ("c2VjcmV0", "does not start with 'whsec_'"),
        (f"{ONE} whsec_not*base64", "secret 2 .* is not base64"),
        ("whsec_", "secret 1 .* is empty"),
    ],
)
def test_unreadable_secrets_are_refused_without_showing_them(secrets: str, problem: str) -> None:
    with pytest.raises(WebhookSecretsInvalid, match=problem) as caught:
        parse_secrets(secrets)
    assert "not*base64" not in caught.value.message


def test_no_secret_means_webhooks_are_not_configured() -> None:
    assert WebhookVerifier.from_settings("  ", 300) is None


def test_an_unreadable_delivery_is_keyed_by_its_id_and_a_digest_of_its_body() -> None:
    record = delivery_record('{"id": " e-9 ", "type": "return.graded"}', "msg_5")
    assert record.event_id.startswith("e-9#unreadable-")
    assert record.event_type == "return.graded"
    assert record.invalid_reason and record.invalid_reason.startswith("webhook msg_5: ")
    again = delivery_record('{"id": " e-9 ", "type": "return.graded"}', "msg_6")
    assert again.event_id == record.event_id


def test_an_unreadable_event_has_one_key_however_its_json_is_laid_out() -> None:
    compact = delivery_record('{"id":"e-9","type":"return.graded"}', "msg_5")
    spaced = delivery_record('{\n  "type": "return.graded",\n  "id": "e-9"\n}', "msg_5")
    assert compact.event_id == spaced.event_id
    assert spaced.payload == '{\n  "type": "return.graded",\n  "id": "e-9"\n}'  # kept as sent
