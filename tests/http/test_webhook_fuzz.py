"""Fuzz the running webhook: 1,000+ generated deliveries, none answered 5xx, none lost.

schemathesis reads the service's own OpenAPI document, whose request body is the union of the
event schemas, and generates events from it: near-valid ones (positive mode) and ones that break
it (negative mode: wrong types, missing fields, other media types). Most are signed correctly
with the standardwebhooks library, so they reach the event checks and the inbox; some keep the
fuzzer's own headers or have their body changed after signing, so they exercise the verifier.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from webhook_support import (
    PATH,
    Service,
    as_body,
    exception_rows,
    inbox_rows,
    post,
    received,
    rejection_rows,
    signed_headers,
)

pytestmark = [pytest.mark.fuzz, pytest.mark.integration]

CASES = 1_000
HOW = ["signed"] * 3 + ["signed, new id"] * 3 + ["fuzzer's headers", "tampered"]


def _body(value: Any) -> bytes:
    """The generated body as bytes on the wire (negative mode may give bytes or no body)."""
    if isinstance(value, bytes):
        return value
    if value is None or type(value).__name__ == "NotSet":
        return b""
    return json.dumps(value).encode("utf-8")


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _printable(headers: dict[str, Any] | None) -> dict[str, str]:
    """The fuzzer's own headers that an HTTP client can send at all."""
    return {
        k: str(v)
        for k, v in (headers or {}).items()
        if str(v).isascii() and str(v).isprintable() and k.isascii() and k.isprintable()
    }


def test_generated_deliveries_never_get_a_5xx_and_every_answer_matches_the_inbox(
    service: Service,
) -> None:
    schema = schemathesis.openapi.from_url(f"{service.running.url}/openapi.json")
    operation = schema[PATH]["POST"]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    answers: Counter[int] = Counter()
    ids = itertools.count()

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, how=st.sampled_from(HOW))
    def deliver(case: schemathesis.Case, how: str) -> None:
        n = next(ids)
        msg_id = f"msg_{n}"
        if how == "signed, new id" and isinstance(case.body, dict) and "id" in case.body:
            # Generated ids repeat a lot ("0"): a fresh one reaches the inbox, not a duplicate.
            case.body["id"] = f"{case.body['id']}-{n}"
        body = _body(case.body)
        signable = _utf8(body)
        if how == "fuzzer's headers":
            headers = _printable(case.headers)
        elif signable:
            headers = signed_headers(body, msg_id)
        else:
            headers = signed_headers(b"", msg_id)  # not UTF-8: the library cannot sign it
        if how == "tampered":
            body += b" "
        answer = service.client.post(PATH, content=body, headers=headers)
        assert answer.status_code in (200, 202, 400, 401), (answer.status_code, answer.text)
        reply = answer.json()
        assert ("code" in reply) if answer.status_code >= 400 else ("status" in reply)
        genuine = how.startswith("signed") and signable
        assert (answer.status_code == 401) != genuine, (how, answer.text)
        answers[answer.status_code] += 1

    deliver()

    assert answers.total() >= CASES
    assert answers[202] > 100 and answers[400] > 100 and answers[401] > 100
    rows = inbox_rows(service.rb)
    assert sum(r["status"] == "pending" for r in rows) == answers[202]
    assert sum(r["status"] == "invalid" for r in rows) == answers[400]
    assert len(exception_rows(service.rb)) == answers[400]
    assert len(rejection_rows(service.rb)) == answers[401]
    # The service still answers, and still takes events.
    assert service.client.get("/healthz").status_code == 200
    fresh = post(service.client, as_body(received("after-the-fuzz")), "msg_last")
    assert fresh.status_code == 202
