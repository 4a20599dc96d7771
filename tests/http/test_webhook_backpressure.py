"""Backpressure on ZigZag's webhooks: past the inbox's hard limit a delivery is refused for now
(500 inbox_full, Retry-After), nothing of it is stored, the refusal is counted in /metrics,
and deliveries are accepted again once the worker has made room."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from webhook_support import StartService, as_body, inbox_rows, post, received, rejection_rows

from returnbridge.domain.auth import Role
from returnbridge.services.access import create_token
from returnbridge.store.tables import inbox
from returnbridge.store.tokens import access_transaction

pytestmark = pytest.mark.integration


def scraped(client: httpx.Client, token: str) -> dict[str, float]:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_under_the_limit_deliveries_are_accepted_and_at_the_limit_refused_and_not_stored(
    start: StartService,
) -> None:
    service = start(inbox_hard_limit=2, inbox_retry_after_seconds=7)
    for n in (1, 2):
        assert post(service.client, as_body(received(f"evt-{n}")), f"msg_{n}").status_code == 202
    refused = post(service.client, as_body(received("evt-3")), "msg_3")
    assert refused.status_code == 500
    assert refused.headers["retry-after"] == "7"
    assert refused.json()["code"] == "inbox_full"
    assert "limit is 2" in refused.json()["message"]
    # Nothing of the refused delivery is kept: not in the inbox, not as a rejection.
    assert [r["event_id"] for r in inbox_rows(service.rb)] == ["evt-1", "evt-2"]
    assert rejection_rows(service.rb) == []
    # A retry of a stored event is refused too while the inbox is full (nothing is looked up).
    assert post(service.client, as_body(received("evt-1")), "msg_1").status_code == 500
    with access_transaction(service.rb.engine) as store:
        token = create_token(store, "prometheus", Role.VIEWER, "setup", service.rb.clock()).token
    figures = scraped(service.client, token)
    assert figures["returnbridge_webhook_inbox_full_total"] == 2
    assert figures["returnbridge_inbox_hard_limit_events"] == 2


def test_once_the_worker_has_made_room_deliveries_are_accepted_again(
    start: StartService,
) -> None:
    service = start(inbox_hard_limit=1, inbox_retry_after_seconds=1)
    assert post(service.client, as_body(received("evt-1")), "msg_1").status_code == 202
    assert post(service.client, as_body(received("evt-2")), "msg_2").status_code == 500
    with service.rb.engine.begin() as conn:  # the worker applied the first event
        conn.execute(update(inbox).values(status="processed"))
    deadline = time.monotonic() + 5  # the pending events are counted again within a second
    while (answer := post(service.client, as_body(received("evt-2")), "msg_2")).status_code == 500:
        assert answer.json()["code"] == "inbox_full"
        assert time.monotonic() < deadline, "still refused 5 s after the inbox emptied"
        time.sleep(0.1)
    assert answer.status_code == 202
    assert [r["event_id"] for r in inbox_rows(service.rb)] == ["evt-1", "evt-2"]


def test_the_limit_holds_within_one_batch_of_simultaneous_deliveries(start: StartService) -> None:
    """The writer stores only as many records of a batch as leave room; the others are
    refused, not stored."""
    service = start(inbox_hard_limit=5)

    def deliver(n: int) -> int:
        with httpx.Client(base_url=service.running.url, timeout=30) as client:
            return post(client, as_body(received(f"evt-{n}")), f"msg_{n}").status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(deliver, range(12)))
    assert sorted(answers) == [202] * 5 + [500] * 7
    stored = {r["event_id"] for r in inbox_rows(service.rb)}
    assert stored == {f"evt-{n}" for n, status in enumerate(answers) if status == 202}
