"""Who may do what over real HTTP: each role, each route; missing, malformed, unknown and
revoked tokens; and every state change in the audit log."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from api_support import NAMES, Api, StartApi, audit_rows, status_of

from returnbridge.domain.auth import Role

pytestmark = pytest.mark.integration

IGNORE = {"action": "ignore", "note": "checked with the warehouse"}
Call = Callable[[Api, dict[str, str], Iterator[int], Iterator[int]], httpx.Response]

ROUTES: dict[str, Call] = {
    "list": lambda api, h, stock, money: api.client.get("/api/exceptions", headers=h),
    "show": lambda api, h, stock, money: api.client.get(
        f"/api/exceptions/{api.stock[-1]}", headers=h
    ),
    "metrics": lambda api, h, stock, money: api.client.get("/metrics", headers=h),
    "resolve stock-side": lambda api, h, stock, money: api.client.post(
        f"/api/exceptions/{next(stock)}/resolve", json=IGNORE, headers=h
    ),
    "resolve money-side": lambda api, h, stock, money: api.client.post(
        f"/api/exceptions/{next(money)}/resolve", json=IGNORE, headers=h
    ),
    "bulk stock-side": lambda api, h, stock, money: api.client.post(
        "/api/exceptions/resolve", json={"items": [{"id": next(stock), **IGNORE}]}, headers=h
    ),
    "bulk money-side": lambda api, h, stock, money: api.client.post(
        "/api/exceptions/resolve", json={"items": [{"id": next(money), **IGNORE}]}, headers=h
    ),
}
READS = {"list": 200, "show": 200, "metrics": 200}
EXPECTED = {
    Role.VIEWER: {**READS, **dict.fromkeys(list(ROUTES)[3:], 403)},
    Role.OPS: {
        **READS,
        "resolve stock-side": 200,
        "resolve money-side": 403,
        "bulk stock-side": 200,
        "bulk money-side": 403,
    },
    Role.FINANCE: {
        **READS,
        "resolve stock-side": 403,
        "resolve money-side": 200,
        "bulk stock-side": 403,
        "bulk money-side": 200,
    },
    Role.ADMIN: dict.fromkeys(ROUTES, 200),
}


@pytest.fixture
def api(start_api: StartApi, db_url: str) -> Api:
    """On SQLite, then on PostgreSQL: 8 open exceptions of each side, one per changing cell."""
    return start_api(db_url, stock=9, money=8)


def test_each_role_does_what_it_should_and_gets_403_for_the_rest(api: Api) -> None:
    stock, money = iter(api.stock[:8]), iter(api.money)
    got: dict[Role, dict[str, int]] = {}
    changed: list[tuple[Role, str, dict]] = []  # type: ignore[type-arg]
    for role in Role:
        got[role] = {}
        for route, call in ROUTES.items():
            answer = call(api, api.as_(role), stock, money)
            got[role][route] = answer.status_code
            if answer.status_code == 403:
                refusal = answer.json()
                assert refusal["code"] == "forbidden" and role.value in refusal["message"]
                assert Role.ADMIN.value in refusal["roles"]
            elif route.startswith(("resolve", "bulk")):
                changed.append((role, route, answer.json()))
    assert got == EXPECTED

    # Allowed decisions took effect; refused ones changed nothing.
    for _role, route, body in changed:
        outcome = body if route.startswith("resolve") else body["results"][0]
        assert outcome["exception"]["status"] == "ignored"
        assert outcome["still_open"] == []
    statuses = [status_of(api.rb, i) for i in api.stock[:8] + api.money]
    assert statuses.count("ignored") == len(changed) == 8
    assert statuses.count("open") == 8

    # Every state change is in the audit log, by the token's name, with before and after.
    rows = [r for r in audit_rows(api.rb) if r["action"] == "exception.resolve"]
    assert len(rows) == 8
    assert sorted(r["actor"] for r in rows) == sorted(NAMES[role] for role, _, _ in changed)
    for row in rows:
        assert row["actor_kind"] == "token"
        assert row["before"]["status"] == "open"
        assert row["after"]["decision"] == {"action": "ignore", "note": IGNORE["note"]}
        assert row["target"] == f"exception:{row['before']['id']}"


def test_missing_malformed_unknown_and_revoked_tokens_get_401(start_api: StartApi) -> None:
    api = start_api()
    cases = {
        "missing_token": {},
        "invalid_token": {"Authorization": f"Basic {api.tokens[Role.ADMIN]}"},
        "revoked_token": {"Authorization": f"Bearer {api.revoked}"},
    }
    for header in (
        "Bearer",
        "Token abc",
        f"Bearer {api.tokens[Role.ADMIN]} extra",
        "Bearer rb_nottherightone",
        f"Bearer {api.tokens[Role.ADMIN]}x",
    ):
        cases[f"invalid_token: {header[:20]}"] = {"Authorization": header}
    for case, headers in cases.items():
        for method, path in (("GET", "/api/exceptions"), ("GET", "/metrics")):
            answer = api.client.request(method, path, headers=headers)
            assert answer.status_code == 401, (case, path)
            assert answer.json()["code"] == case.split(":")[0], case
            assert answer.headers["www-authenticate"].startswith("Bearer"), case
        answer = api.client.post("/api/exceptions/1/resolve", json=IGNORE, headers=headers)
        assert answer.status_code == 401, case
    # Nothing secret comes back, and nothing changed.
    assert api.revoked not in answer.text
    assert [r["action"] for r in audit_rows(api.rb)] == ["token.create"] * 5 + ["token.revoke"]


def test_the_open_routes_need_no_token_and_the_schema_shows_the_bearer_scheme(
    start_api: StartApi,
) -> None:
    api = start_api()
    assert api.client.get("/healthz").status_code == 200
    spec = api.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    for path, method in (
        ("/api/exceptions", "get"),
        ("/api/exceptions/{exception_id}", "get"),
        ("/api/exceptions/{exception_id}/resolve", "post"),
        ("/api/exceptions/resolve", "post"),
        ("/metrics", "get"),
    ):
        assert spec["paths"][path][method]["security"] == [{"bearer": []}], path
        assert "401" in spec["paths"][path][method]["responses"], path
    assert "security" not in spec["paths"]["/webhooks/zigzag"]["post"]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_a_token_notes_when_it_was_last_used_at_most_once_a_minute(start_api: StartApi) -> None:
    api = start_api()
    from returnbridge.store.tokens import access_transaction

    def last_used() -> dict[str, object]:
        with access_transaction(api.rb.engine) as store:
            return {t.name: t.last_used_at for t in store.tokens()}

    assert set(last_used().values()) == {None}
    api.client.get("/api/exceptions", headers=api.as_(Role.VIEWER))
    first = last_used()[NAMES[Role.VIEWER]]
    assert first is not None
    api.client.get("/api/exceptions", headers=api.as_(Role.VIEWER))
    assert last_used()[NAMES[Role.VIEWER]] == first  # seconds later: not written again
