"""ZigZag's signed webhooks, over real HTTP, into a real inbox."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from webhook_support import (
    NEW_SECRET,
    NOW,
    PATH,
    SECRET,
    WRONG_SECRET,
    Service,
    StartService,
    as_body,
    exception_rows,
    inbox_rows,
    post,
    received,
    rejection_rows,
    signed_headers,
)

from returnbridge.connectors.zigzag.csv_export import read_export
from returnbridge.connectors.zigzag.webhooks import delivery_record
from returnbridge.entrypoints.http.inbox_writer import InboxWriter
from returnbridge.services.pipeline import ingest

pytestmark = pytest.mark.integration

DOCS = Path(__file__).parents[2] / "docs" / "zigzag-events.md"


def test_a_signed_event_is_stored_before_the_answer_and_a_retry_is_a_duplicate(
    any_db_service: Service,
) -> None:
    service = any_db_service
    body = as_body(received())

    first = post(service.client, body, "msg_1")
    assert first.status_code == 202
    assert first.json() == {"status": "accepted", "id": "zz-evt-1003"}
    [row] = inbox_rows(service.rb)
    assert (row["source"], row["event_id"], row["status"]) == ("zigzag", "zz-evt-1003", "pending")
    assert row["case_key"] == "zz:ZZR-000137"

    # ZigZag's retry: same message id and body, a new attempt signed a minute later.
    service.clock.now = NOW + timedelta(minutes=1)
    again = post(service.client, body, "msg_1", at=NOW + timedelta(minutes=1))
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "id": "zz-evt-1003"}
    [row] = inbox_rows(service.rb)
    assert row["duplicates"] == 1
    assert exception_rows(service.rb) == []
    assert rejection_rows(service.rb) == []


def test_a_webhook_event_is_stored_exactly_as_the_csv_export_stores_it(
    service: Service, tmp_path: Path
) -> None:
    export = tmp_path / "example.csv"
    csv_text = DOCS.read_text(encoding="utf-8").split("```csv\n")[1].split("```")[0]
    export.write_text(csv_text, encoding="utf-8")
    from_csv = {r.event_id: r for r in read_export(export)}
    assert len(from_csv) == 6

    for n, record in enumerate(from_csv.values()):
        # The same event as ZigZag might send it: other key order, layout and an unknown field.
        event = dict(reversed(json.loads(record.payload).items()), trackingUrl="https://x.test/1")
        body = json.dumps(event, indent=2).encode()
        assert post(service.client, body, f"msg_{n}").status_code == 202

    stored = {r["event_id"]: r for r in inbox_rows(service.rb)}
    assert set(stored) == set(from_csv)
    for event_id, record in from_csv.items():
        row = stored[event_id]
        assert (row["event_type"], row["payload"], row["case_key"]) == (
            record.event_type,
            record.payload,
            record.case_key,
        )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("tampered body", "bad_signature"),
        ("wrong secret", "bad_signature"),
        ("signed 301 s ago", "stale_timestamp"),
        ("signed 301 s ahead", "stale_timestamp"),
        ("no signature", "missing_signature"),
        ("garbled signature", "bad_signature"),
        ("timestamp not a number", "bad_signature"),
    ],
)
def test_a_delivery_that_does_not_prove_its_origin_is_refused_and_kept_outside_the_inbox(
    service: Service, change: str, code: str
) -> None:
    body = as_body(received())
    headers = signed_headers(body, "msg_9")
    sent = body
    if change == "tampered body":
        sent = body.replace(b'"quantity": 2', b'"quantity": 20')
    elif change == "wrong secret":
        headers = signed_headers(body, "msg_9", secrets=(WRONG_SECRET,))
    elif change == "signed 301 s ago":
        headers = signed_headers(body, "msg_9", at=NOW - timedelta(seconds=301))
    elif change == "signed 301 s ahead":
        headers = signed_headers(body, "msg_9", at=NOW + timedelta(seconds=301))
    elif change == "no signature":
        del headers["webhook-signature"]
    elif change == "garbled signature":
        headers["webhook-signature"] = "v1 v1, v1,%%% v2,abc ,,,"
    elif change == "timestamp not a number":
        headers["webhook-timestamp"] = "1e9"

    answer = service.client.post(PATH, content=sent, headers=headers)

    assert answer.status_code == 401
    assert answer.json()["code"] == code
    assert answer.json()["message"]
    assert inbox_rows(service.rb) == []
    [kept] = rejection_rows(service.rb)
    assert (kept["status"], kept["code"], kept["webhook_id"]) == (401, code, "msg_9")
    assert kept["body"] == sent.decode()
    assert (kept["size"], kept["truncated"]) == (len(sent), False)


def test_a_timestamp_just_inside_the_window_is_accepted(service: Service) -> None:
    body = as_body(received())
    answer = post(service.client, body, "msg_1", at=NOW - timedelta(seconds=300))
    assert answer.status_code == 202


def test_a_signed_event_that_breaks_the_rules_is_kept_raw_as_one_invalid_event(
    any_db_service: Service,
) -> None:
    service = any_db_service
    broken = received()
    del broken["dcWarehouse"]
    body = as_body(broken)

    answer = post(service.client, body, "msg_2")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_event"
    assert "needs dcWarehouse" in answer.json()["message"]
    [row] = inbox_rows(service.rb)
    assert row["status"] == "invalid" and row["payload"] == body.decode()
    assert row["event_id"].startswith("zz-evt-1003#unreadable-")
    [problem] = exception_rows(service.rb)
    assert problem["code"] == "INVALID_EVENT" and problem["raw"] == body.decode()

    # ZigZag re-sends a 400 daily; the re-delivery is a duplicate and raises nothing new.
    service.clock.now = NOW + timedelta(days=1)
    again = post(service.client, body, "msg_2", at=NOW + timedelta(days=1))
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(inbox_rows(service.rb)) == 1
    assert len(exception_rows(service.rb)) == 1

    # The corrected event, under the same id, is accepted.
    fixed = post(service.client, as_body(received()), "msg_3", at=NOW + timedelta(days=1))
    assert fixed.status_code == 202 and fixed.json()["id"] == "zz-evt-1003"


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b"[1, 2, 3]", b'{"id": 7}', b'{"id": "  "}', b"", b'"\\u0000"'],
)
def test_a_signed_body_without_a_readable_id_is_keyed_by_its_webhook_id(
    service: Service, body: bytes
) -> None:
    answer = post(service.client, body, "msg_77")
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_event"
    [row] = inbox_rows(service.rb)
    assert row["event_id"].startswith("webhook:msg_77#unreadable-")
    assert post(service.client, body, "msg_77").status_code == 200
    assert len(exception_rows(service.rb)) == 1


def test_characters_no_database_can_hold_never_reach_the_database_raw(
    any_db_service: Service,
) -> None:
    service = any_db_service
    body = b'{"id": "zz-\\u0000", "type": "return.cancelled", "occurredAt": "2026-11-02T09:30:00Z"'
    body += b', "returnId": "ZZR-\\ud800"}'
    answer = post(service.client, body, "msg_nul")
    assert answer.status_code == 400
    raw_nul = b'{"id": "zz-1", "type": "return.cancelled", "x": "\x00"}'
    assert post(service.client, raw_nul, "msg_raw_nul").status_code == 400
    assert len(exception_rows(service.rb)) == 2


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_with_413_and_kept_cut_at_the_limit(
    start: StartService, declared: bool
) -> None:
    service = start(webhook_max_bytes=2_000)
    event = received(note="x" * 3_000)
    body = as_body(event)
    headers = signed_headers(body, "msg_big")
    if declared:
        answer = service.client.post(PATH, content=body, headers=headers)
    else:
        answer = service.client.post(
            PATH, content=iter([body[:1_000], body[1_000:]]), headers=headers
        )

    assert answer.status_code == 413
    assert answer.json()["code"] == "payload_too_large"
    assert inbox_rows(service.rb) == []
    [kept] = rejection_rows(service.rb)
    assert (kept["status"], kept["size"], kept["truncated"]) == (413, len(body), True)
    assert kept["body"] == body[:2_000].decode()
    # The service still answers on a new connection.
    assert post(service.client, as_body(received()), "msg_small").status_code == 202


def test_a_body_declared_far_over_the_limit_is_refused_without_reading_it(
    start: StartService,
) -> None:
    service = start(webhook_max_bytes=2_000)
    body = b"{" + b" " * 40_000 + b"}"
    answer = service.client.post(PATH, content=body, headers=signed_headers(body, "msg_huge"))
    assert answer.status_code == 413
    [kept] = rejection_rows(service.rb)
    assert kept["size"] == len(body) and len(kept["body"]) == 2_000


def test_during_a_key_rotation_either_secret_is_accepted(start: StartService) -> None:
    service = start(zigzag_webhook_secret=f"{SECRET} {NEW_SECRET}")
    by_new = post(service.client, as_body(received("e-1")), "msg_1", secrets=(NEW_SECRET,))
    by_old = post(service.client, as_body(received("e-2")), "msg_2", secrets=(SECRET,))
    by_both = post(
        service.client, as_body(received("e-3")), "msg_3", secrets=(WRONG_SECRET, NEW_SECRET)
    )
    assert [a.status_code for a in (by_new, by_old, by_both)] == [202, 202, 202]
    stranger = post(service.client, as_body(received("e-4")), "msg_4", secrets=(WRONG_SECRET,))
    assert stranger.status_code == 401


def test_without_a_secret_the_webhook_answers_503_and_keeps_the_body(start: StartService) -> None:
    service = start(zigzag_webhook_secret="")
    answer = post(service.client, as_body(received()), "msg_1")
    assert answer.status_code == 503
    assert answer.json()["code"] == "webhooks_not_configured"
    assert inbox_rows(service.rb) == []
    assert rejection_rows(service.rb)[0]["code"] == "webhooks_not_configured"
    assert service.client.get("/healthz").json() == {"status": "ok", "webhooks": "not_configured"}


def test_other_paths_and_methods_answer_json_with_a_code(service: Service) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok", "webhooks": "configured"}
    missing = service.client.get("/nowhere")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    wrong = service.client.get(PATH)
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


def test_the_openapi_request_body_is_the_union_of_the_event_schemas(service: Service) -> None:
    spec = service.client.get("/openapi.json").json()
    body = spec["paths"][PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    types = [branch["properties"]["type"]["const"] for branch in body["oneOf"]]
    assert len(types) == 7 and "return.disposition_set" in types


def test_an_inbox_that_cannot_be_written_answers_500_store_unavailable_for_a_retry(
    service: Service,
) -> None:
    with service.rb.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE inbox")
    answer = post(service.client, as_body(received()), "msg_1")
    assert answer.status_code == 500
    assert answer.json()["code"] == "store_unavailable"
    assert answer.headers["retry-after"] == "30"
    # A refusal is still answered when it cannot be kept.
    with service.rb.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE webhook_rejections")
    assert service.client.post(PATH, content=b"{}").json()["code"] == "missing_signature"


def test_simultaneous_deliveries_of_one_event_store_it_once(any_db_service: Service) -> None:
    service = any_db_service
    body = as_body(received())
    headers = signed_headers(body, "msg_1")

    def deliver(_: int) -> int:
        with httpx.Client(base_url=service.running.url, timeout=30) as client:
            return client.post(PATH, content=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = sorted(pool.map(deliver, range(16)))
    assert answers == [200] * 15 + [202]
    [row] = inbox_rows(service.rb)
    assert row["duplicates"] == 15


@pytest.mark.postgres
def test_a_delivery_that_loses_the_race_to_store_its_event_is_a_duplicate(
    start: StartService, postgres_url: str
) -> None:
    service = start(postgres_url)
    record = delivery_record(as_body(received()).decode(), "msg_1")
    with ThreadPoolExecutor(max_workers=1) as pool:
        with service.rb.stores() as first:
            ingest(first, [record], NOW)
            # The second writer reads no such event, then waits on the unique key until the
            # first commits, and fails on it: it must count as a duplicate, not an error.
            writer = InboxWriter(service.rb.engine, service.rb.clock, hard_limit=100)
            second = pool.submit(writer.write, [record])
            time.sleep(0.5)
        result = second.result(timeout=10)
    assert result == ["duplicate"]
    assert len(inbox_rows(service.rb)) == 1
