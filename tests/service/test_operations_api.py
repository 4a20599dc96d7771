"""The operations API over real HTTP, on a demo day: returns found by each key with their
timeline across ZigZag and Amazon, clearing cycles and their transactions, credits, claims,
report downloads, and an OpenAPI document in which every API route needs a token."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest
from service_support import DemoApi, refunded_and_remitted_case

from returnbridge.services.finance import credit_report
from returnbridge.store.finance import SqlFinanceStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def case_id(demo_api: DemoApi) -> int:
    return refunded_and_remitted_case(demo_api.rb)


def ids(answer: httpx.Response) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def every_page(client: httpx.Client, path: str, key: str, cursor: str) -> list[dict[str, Any]]:
    """Follow ``key`` (``next_after``/``next_before``) as ``cursor`` until the last page."""
    items: list[dict[str, Any]] = []
    answer = client.get(path).json()
    while True:
        items += answer["items"]
        if answer[key] is None:
            return items
        sep = "&" if "?" in path else "?"
        answer = client.get(f"{path}{sep}{cursor}={answer[key]}").json()


def test_a_return_is_found_by_its_zigzag_id_its_order_id_and_its_sku_in_any_form(
    demo_api: DemoApi, case_id: int
) -> None:
    api = demo_api.client
    shown = api.get(f"/api/returns/{case_id}").json()
    assert ids(api.get("/api/returns", params={"zigzag_id": shown["return_id"]})) == [case_id]
    by_order = api.get("/api/returns", params={"order_id": shown["order_id"]}).json()["items"]
    assert case_id in [r["id"] for r in by_order]
    assert {r["order_id"] for r in by_order} == {shown["order_id"]}
    sku = shown["skus"][0]
    by_sku = ids(api.get("/api/returns", params={"sku": sku}))
    assert case_id in by_sku
    assert ids(api.get("/api/returns", params={"sku": sku.lower().replace("-", "_")})) == by_sku
    ean = demo_api.catalog_row(sku)["ean"]
    assert ean and ids(api.get("/api/returns", params={"sku": ean})) == by_sku
    paged = every_page(api, f"/api/returns?sku={sku}&limit=1", "next_after", "after")
    assert [r["id"] for r in paged] == by_sku
    assert ids(api.get("/api/returns", params={"sku": "NO-SUCH-THING"})) == []
    both = {"zigzag_id": shown["return_id"], "order_id": "not-its-order"}
    assert ids(api.get("/api/returns", params=both)) == []


def test_a_refunded_returns_timeline_holds_zigzag_and_amazon_in_time_order(
    demo_api: DemoApi, case_id: int
) -> None:
    shown = demo_api.client.get(f"/api/returns/{case_id}").json()
    timeline = shown["timeline"]
    times = [datetime.fromisoformat(e["at"]) for e in timeline]
    assert times == sorted(times)
    assert {"zigzag", "amazon", "returnbridge"} <= {e["source"] for e in timeline}
    kinds = [e["kind"] for e in timeline]
    for kind in (
        "amazon.refund_at_first_scan",
        "return.registered",
        "return.received",
        "credit_notes.sent",
        "credit_notes.success",
        "remittance",
    ):
        assert kind in kinds, kinds
    assert any(k.startswith("journal.") for k in kinds)
    assert kinds.index("return.registered") < kinds.index("return.received")
    assert kinds.index("credit_notes.sent") < kinds.index("credit_notes.success")
    sent = timeline[kinds.index("credit_notes.sent")]
    assert sent["source"] == "amazon" and sent["detail"]["transaction_id"]
    notes = {item["credit_note"] for item in sent["detail"]["items"]}
    remitted = [e for e in timeline if e["kind"] == "remittance"]
    assert {e["detail"]["credit_note"] for e in remitted} <= notes
    refund = timeline[kinds.index("amazon.refund_at_first_scan")]
    assert refund["source"] == "amazon" and refund["detail"]["refund"]["order_id"]
    for line in shown["lines"]:
        units = dict(line["units"])
        assert units.pop("received") == sum(units.values())
    assert all(e["return_id"] == shown["return_id"] for e in shown["exceptions"])
    missing = demo_api.client.get("/api/returns/99999")
    assert (missing.status_code, missing.json()["code"]) == (404, "record.not_found")


def test_cycles_are_listed_newest_first_with_their_transactions(demo_api: DemoApi) -> None:
    api = demo_api.client
    cycles = every_page(api, "/api/cycles?limit=2", "next_before", "before")
    assert [c["id"] for c in cycles] == sorted((c["id"] for c in cycles), reverse=True)
    assert len(cycles) >= 2
    first = api.get(f"/api/cycles/{cycles[-1]['id']}").json()
    assert first["closed_at"] is not None
    assert sum(t["items"] for t in first["transactions"]) == first["items"] > 0
    for t in first["transactions"]:
        assert t["cycle_id"] == first["id"]
        assert t["status"] in first["by_status"]
        assert t["transaction_id"] or t["status"] == "prepared"
    credit = api.get("/api/transactions", params={"operation": "credit_notes"}).json()["items"]
    assert credit and {t["operation"] for t in credit} == {"credit_notes"}
    assert [t["id"] for t in credit] == sorted((t["id"] for t in credit), reverse=True)
    gone = api.get("/api/cycles/9999")
    assert (gone.status_code, gone.json()["code"]) == (404, "record.not_found")


def test_credits_page_through_every_line_and_add_up_as_the_ledger_says(demo_api: DemoApi) -> None:
    api = demo_api.client
    rows = every_page(api, "/api/credits?limit=40", "next_after", "after")
    with demo_api.rb.engine.connect() as conn:
        report = credit_report(SqlFinanceStore(conn))
    assert len(rows) == len(report) == len({(r["line_ref"], r["currency"]) for r in rows})
    for r in rows:
        assert abs(r["credit_expected"] - (r["credited"] + r["pending"] + r["disputed"])) <= 1
    assert {"return", "credit_notes", "pending_by_cause"} <= set(rows[0])
    matched = api.get("/api/credits", params={"state": "matched", "limit": 5_000}).json()["items"]
    assert {r["state"] for r in matched} == {"matched"}
    assert len(matched) == sum(1 for r in report if r.state.value == "matched")
    ageing = api.get("/api/credits/ageing").json()
    assert ageing["buckets"] == ["0-7", "8-30", "31-60", "61+"]
    aged = sum(
        v for causes in ageing["by_currency"].values() for b in causes.values() for v in b.values()
    )
    assert aged == sum(r["pending"] + r["disputed"] for r in rows)


def test_claims_name_their_return_and_the_sixty_day_deadline(demo_api: DemoApi) -> None:
    api = demo_api.client
    claims = api.get("/api/claims").json()["items"]
    assert claims, "the demo plants a materially different refunded return"
    deadlines = [c["deadline"] for c in claims]
    assert deadlines == sorted(deadlines)
    for claim in claims:
        at = datetime.fromisoformat
        assert at(claim["deadline"]) - at(claim["refunded_at"]) == timedelta(days=60)
        shown = api.get(f"/api/returns/{claim['case_id']}").json()
        assert shown["case_key"] == claim["case_key"]
    bad = api.get("/api/claims", params={"after": "not-a-cursor"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_request")


def test_the_daily_log_and_the_month_end_close_download_as_files(demo_api: DemoApi) -> None:
    api = demo_api.client
    day = api.get("/api/returns?limit=1").json()["items"][0]["created_at"][:10]
    daily = api.get("/api/reports/daily", params={"date": day})
    assert daily.status_code == 200, daily.text
    assert daily.headers["content-type"].startswith("text/markdown")
    assert f'filename="daily-log-{day}.md"' in daily.headers["content-disposition"]
    assert daily.text.startswith(f"# Daily log for {day} (UTC)")
    figures = api.get("/api/reports/daily", params={"date": day, "format": "json"}).json()
    assert figures["date"] == day and figures["arrived"]["events"] > 0
    month = day[:7]
    xlsx = api.get("/api/reports/month-end", params={"month": month})
    assert xlsx.status_code == 200, xlsx.text
    assert f'filename="month-end-{month}.xlsx"' in xlsx.headers["content-disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert workbook.sheetnames[0] == "Summary"
    html = api.get("/api/reports/month-end", params={"month": month, "format": "html"})
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text
    for params in ({"month": "2026-13"}, {"month": "2999-01"}):
        refused = api.get("/api/reports/month-end", params=params)
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_request")
    assert api.get("/api/reports/daily").status_code == 400


API_ROUTES = {
    ("/api/returns", "get"),
    ("/api/returns/{case_id}", "get"),
    ("/api/exceptions", "get"),
    ("/api/exceptions/{exception_id}", "get"),
    ("/api/exceptions/{exception_id}/resolve", "post"),
    ("/api/exceptions/{exception_id}/retry", "post"),
    ("/api/exceptions/resolve", "post"),
    ("/api/cycles", "get"),
    ("/api/cycles/{cycle_id}", "get"),
    ("/api/transactions", "get"),
    ("/api/credits", "get"),
    ("/api/credits/ageing", "get"),
    ("/api/claims", "get"),
    ("/api/reports/daily", "get"),
    ("/api/reports/month-end", "get"),
    ("/metrics", "get"),
}


def test_openapi_documents_every_api_route_behind_the_bearer_scheme(demo_api: DemoApi) -> None:
    anonymous = httpx.Client(base_url=str(demo_api.client.base_url), timeout=30)
    spec = anonymous.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    documented = {
        (path, method)
        for path, operations in spec["paths"].items()
        for method in operations
        if path.startswith("/api/") or path == "/metrics"
    }
    assert documented >= API_ROUTES
    for path, method in sorted(documented):
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearer": []}], path
        assert "401" in operation["responses"] and "200" in operation["responses"], path
        url = re.sub(r"\{\w+\}", "1", path)
        answer = anonymous.request(method, url, json={} if method == "post" else None)
        assert (answer.status_code, answer.json()["code"]) == (401, "missing_token"), path
    for open_path in ("/healthz", "/readyz", "/webhooks/zigzag"):
        for operation in spec["paths"][open_path].values():
            assert "security" not in operation, open_path
    anonymous.close()
