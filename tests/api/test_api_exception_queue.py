"""The exception queue over HTTP: filters and pages, one exception in full, decisions refused
as the CLI refuses them, bulk decisions all or nothing, and metrics on each scrape."""

from __future__ import annotations

import pytest
from api_support import NAMES, Api, StartApi, audit_rows, open_ids, send, status_of, unknown_sku

from returnbridge.domain.auth import Role
from returnbridge.store.stock import SqlStockStore

pytestmark = pytest.mark.integration

NOTE = {"action": "ignore", "note": "checked"}


@pytest.fixture
def api(start_api: StartApi) -> Api:
    api = start_api(stock=3, money=2)
    send(api.rb, unknown_sku("RU1"))
    return api


def test_the_queue_filters_by_code_and_status_and_pages_by_id(api: Api) -> None:
    viewer = api.as_(Role.VIEWER)
    everything = api.client.get("/api/exceptions", headers=viewer).json()
    assert [e["code"] for e in everything["items"]] == ["UNMAPPED_REASON"] * 3 + [
        "UNMAPPED_CHARGE"
    ] * 2 + ["UNKNOWN_SKU"]
    assert everything["next_after"] is None
    first = api.client.get("/api/exceptions?limit=4", headers=viewer).json()
    assert len(first["items"]) == 4 and first["next_after"] == first["items"][-1]["id"]
    rest = api.client.get(
        f"/api/exceptions?limit=4&after={first['next_after']}", headers=viewer
    ).json()
    assert [e["id"] for e in first["items"] + rest["items"]] == [
        e["id"] for e in everything["items"]
    ]
    assert rest["next_after"] is None
    money = api.client.get("/api/exceptions?code=UNMAPPED_CHARGE", headers=viewer).json()
    assert [e["sides"] for e in money["items"]] == [["money"], ["money"]]
    assert api.client.get("/api/exceptions?status=ignored", headers=viewer).json()["items"] == []
    bad = api.client.get("/api/exceptions?code=NOT_A_CODE", headers=viewer)
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_request")


def test_one_exception_shows_its_raw_input_and_every_action_taken(api: Api) -> None:
    [unknown] = open_ids(api.rb, "UNKNOWN_SKU")
    answer = api.client.post(
        f"/api/exceptions/{unknown}/resolve",
        json={"action": "reprocess", "sku": "5012345678900", "note": "label misprint"},
        headers={"Authorization": f"bearer {api.tokens[Role.OPS]}"},  # the scheme is any case
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["exception"]["status"] == "resolved"
    shown = api.client.get(f"/api/exceptions/{unknown}", headers=api.as_(Role.VIEWER)).json()
    assert shown["resolved_by"] == NAMES[Role.OPS] and "MYSTERY-1" in shown["raw"]
    assert [(a["action"], a["actor"], a["detail"]) for a in shown["actions"]] == [
        ("reprocess", NAMES[Role.OPS], {"sku": "5012345678900"})
    ]
    missing = api.client.get("/api/exceptions/999", headers=api.as_(Role.VIEWER))
    assert (missing.status_code, missing.json()["code"]) == (404, "record.not_found")


def test_a_decision_the_rules_refuse_is_a_409_and_records_nothing(api: Api) -> None:
    [unknown] = open_ids(api.rb, "UNKNOWN_SKU")
    before = len(audit_rows(api.rb))
    answer = api.client.post(
        f"/api/exceptions/{unknown}/resolve", json=NOTE, headers=api.as_(Role.OPS)
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "exception.action_refused"
    assert "cannot be ignored" in answer.json()["message"]
    no_note = api.client.post(
        f"/api/exceptions/{api.stock[0]}/resolve",
        json={"action": "ignore"},
        headers=api.as_(Role.OPS),
    )
    assert no_note.status_code == 409 and "needs a reason" in no_note.json()["message"]
    gone = api.client.post("/api/exceptions/999/resolve", json=NOTE, headers=api.as_(Role.OPS))
    assert (gone.status_code, gone.json()["code"]) == (404, "record.not_found")
    unknown_field = api.client.post(
        f"/api/exceptions/{api.stock[0]}/resolve",
        json={**NOTE, "actor": "someone else"},  # the actor is the token, never the body
        headers=api.as_(Role.OPS),
    )
    assert unknown_field.status_code == 400
    nul = api.client.post(
        f"/api/exceptions/{api.stock[0]}/resolve",
        json={"action": "ignore", "note": "a\x00b"},
        headers=api.as_(Role.OPS),
    )
    assert (nul.status_code, nul.json()["code"]) == (400, "invalid_request")
    assert len(audit_rows(api.rb)) == before
    assert status_of(api.rb, unknown) == "open"


def test_a_bulk_decision_is_all_or_nothing(api: Api) -> None:
    [unknown] = open_ids(api.rb, "UNKNOWN_SKU")
    ops = api.as_(Role.OPS)
    before = len(audit_rows(api.rb))

    # One item refused by the rules: nothing recorded, each refusal named.
    refused = api.client.post(
        "/api/exceptions/resolve",
        json={
            "items": [{"id": api.stock[0], **NOTE}, {"id": unknown, **NOTE}, {"id": 999, **NOTE}]
        },
        headers=ops,
    )
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "bulk_refused"
    assert [(r["id"], r["code"]) for r in body["refused"]] == [
        (unknown, "exception.action_refused"),
        (999, "record.not_found"),
    ]
    # One item the role may not resolve: 403 naming it, nothing recorded.
    barred = api.client.post(
        "/api/exceptions/resolve",
        json={"items": [{"id": api.stock[0], **NOTE}, {"id": api.money[0], **NOTE}]},
        headers=ops,
    )
    assert barred.status_code == 403
    assert [i["id"] for i in barred.json()["items"]] == [api.money[0]]
    assert barred.json()["items"][0]["roles"] == ["finance", "admin"]
    twice = api.client.post(
        "/api/exceptions/resolve",
        json={"items": [{"id": api.stock[0], **NOTE}, {"id": api.stock[0], **NOTE}]},
        headers=ops,
    )
    assert twice.status_code == 400
    assert len(audit_rows(api.rb)) == before
    assert [status_of(api.rb, i) for i in api.stock] == ["open"] * 3

    # All fit: all recorded and applied, one audit row each.
    done = api.client.post(
        "/api/exceptions/resolve",
        json={"items": [{"id": i, **NOTE} for i in api.stock]},
        headers=ops,
    )
    assert done.status_code == 200, done.text
    assert [r["exception"]["status"] for r in done.json()["results"]] == ["ignored"] * 3
    rows = audit_rows(api.rb)[before:]
    assert [(r["target"], r["actor"]) for r in rows] == [
        (f"exception:{i}", NAMES[Role.OPS]) for i in api.stock
    ]


def test_metrics_count_the_queues_on_each_scrape(api: Api) -> None:
    finance = api.as_(Role.FINANCE)
    text = api.client.get("/metrics", headers=finance).text
    assert 'returnbridge_exceptions_open{code="UNMAPPED_REASON"} 3.0' in text
    assert 'returnbridge_exceptions_open{code="UNMAPPED_CHARGE"} 2.0' in text
    assert 'returnbridge_exceptions_open{code="OVER_RETURN"} 0.0' in text
    assert "returnbridge_inbox_pending_events 0.0" in text
    assert 'returnbridge_outbox_pending_messages{topic="amazon.inventory"} 0.0' in text
    # Ignoring the unmapped reason lets the line flow: its unit is restocked, to send Amazon.
    api.client.post(f"/api/exceptions/{api.stock[0]}/resolve", json=NOTE, headers=api.as_(Role.OPS))
    text = api.client.get("/metrics", headers=finance).text
    assert 'returnbridge_exceptions_open{code="UNMAPPED_REASON"} 2.0' in text
    assert 'returnbridge_outbox_pending_messages{topic="amazon.inventory"} 1.0' in text


def test_a_held_stock_drop_is_released_over_http_by_ops_and_audit_logged(api: Api) -> None:
    with api.rb.stores() as store:
        held = SqlStockStore(store.conn).add_subject_exception(
            "STOCK_DROP_HELD",
            "position:AMZ-UK1/CAS-123-BLK-M",
            "Stock for CAS-123-BLK-M at Amazon warehouse AMZ-UK1 is held: 2 is 38 below the 40",
            {"warehouse": "AMZ-UK1", "sku": "CAS-123-BLK-M", "quantity": 2, "confirmed": 40},
            api.rb.clock(),
        )
    release = {"action": "release", "note": "WMS count checked"}
    url = f"/api/exceptions/{held}/resolve"
    refused = api.client.post(url, json={"action": "reprocess"}, headers=api.as_(Role.OPS))
    assert refused.status_code == 409 and "release it" in refused.json()["message"]
    assert api.client.post(url, json=release, headers=api.as_(Role.FINANCE)).status_code == 403
    done = api.client.post(url, json=release, headers=api.as_(Role.OPS))
    assert done.status_code == 200, done.text
    closed = done.json()["exception"]
    assert (closed["status"], closed["resolution"]) == ("resolved", "release")
    (logged,) = [r for r in audit_rows(api.rb) if r["target"] == f"exception:{held}"]
    assert logged["actor"] == NAMES[Role.OPS] and logged["after"]["decision"]["action"] == "release"
    # release fits no other code
    other = api.stock[0]
    wrong = api.client.post(
        f"/api/exceptions/{other}/resolve", json=release, headers=api.as_(Role.OPS)
    )
    assert wrong.status_code == 409 and "STOCK_DROP_HELD" in wrong.json()["message"]
