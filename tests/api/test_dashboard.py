"""The dashboard over real HTTP: signing in with a token, what each role sees and may press,
a one-click decision recorded and audited as the API records it, and the forms' protection.

The browser's view of the same page (Chromium, after a demo) is tests/dashboard/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from api_support import NAMES, Api, StartApi, audit_rows, send, status_of, unknown_sku

from returnbridge.domain.auth import Role
from returnbridge.domain.errors import ExceptionCode
from returnbridge.entrypoints.http.dashboard import SESSION_COOKIE
from returnbridge.entrypoints.http.dashboard_page import MEANING
from returnbridge.services.access import revoke_tokens
from returnbridge.store.tokens import access_transaction

pytestmark = pytest.mark.integration

NOTE = "reason 42 is a ZigZag test code"


@pytest.fixture
def api(start_api: StartApi) -> Api:
    """Two stock-side (UNMAPPED_REASON) and two money-side (UNMAPPED_CHARGE) open exceptions."""
    return start_api(stock=2, money=2)


@pytest.fixture
def browsers(api: Api) -> Iterator[dict[Role, httpx.Client]]:
    """One signed-in client per role, each with its own cookie jar."""
    clients = {}
    for role in Role:
        client = httpx.Client(base_url=api.running.url, timeout=10)
        answer = client.post("/login", data={"token": api.tokens[role]})
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        clients[role] = client
    yield clients
    for client in clients.values():
        client.close()


def form_token(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found, "the page carries no form token"
    return found.group(1)


def decide(client: httpx.Client, exception_id: int, **fields: str) -> httpx.Response:
    fields.setdefault("csrf", form_token(client.get("/").text))
    return client.post(f"/exceptions/{exception_id}/resolve", data=fields)


def flash(client: httpx.Client) -> str:
    found = re.search(
        r'<div class="flash (\w+)" id="flash" role="status">([^<]*)</div>', client.get("/").text
    )
    assert found, "no message on the page"
    return f"{found.group(1)}: {found.group(2)}"


def buttons(page: str) -> dict[int, list[str]]:
    """Per exception row, the actions its forms would send."""
    return {
        int(row.group(1)): re.findall(r'name="action" value="([a-z-]+)"', row.group(0))
        for row in re.finditer(r'<tr data-exception="(\d+)".*?</tr>', page, flags=re.S)
    }


def client_get(api: Api, path: str) -> httpx.Response:
    with httpx.Client(base_url=api.running.url, timeout=10) as client:
        return client.get(path)


def test_a_stranger_is_sent_to_sign_in_and_a_bad_token_is_refused(api: Api) -> None:
    with httpx.Client(base_url=api.running.url, timeout=10) as client:
        away = client.get("/")
        assert away.status_code == 303 and away.headers["location"] == "/login"
        page = client.get("/login")
        assert page.status_code == 200 and 'name="token"' in page.text
        wrong = client.post("/login", data={"token": "rb_not-a-token-returnbridge-issued"})
        assert wrong.status_code == 401 and "not one returnbridge issued" in wrong.text
        revoked = client.post("/login", data={"token": api.revoked})
        assert revoked.status_code == 401 and "was revoked" in revoked.text
        assert SESSION_COOKIE not in client.cookies
        assert client.get("/").status_code == 303


def test_signing_in_keeps_the_token_in_a_strict_http_only_cookie(api: Api) -> None:
    with httpx.Client(base_url=api.running.url, timeout=10) as client:
        answer = client.post("/login", data={"token": api.tokens[Role.OPS]})
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        for attribute in ("HttpOnly", "SameSite=strict", "Path=/", "Max-Age=43200"):
            assert attribute.lower() in cookie.lower()
        page = client.get("/")
    assert page.status_code == 200
    assert api.tokens[Role.OPS] not in page.text  # the page never shows the token
    assert f">{NAMES[Role.OPS]}</strong> (ops)" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert page.headers["cache-control"] == "no-store"
    # Everything the page loads comes from the service itself.
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    for asset in ("/static/dashboard.css", "/static/dashboard.js"):
        assert asset in page.text and client_get(api, asset).status_code == 200


def test_each_role_sees_buttons_only_where_it_may_act(
    api: Api, browsers: dict[Role, httpx.Client]
) -> None:
    every = set(api.stock) | set(api.money)
    seen = {role: buttons(client.get("/").text) for role, client in browsers.items()}
    assert all(set(rows) == every for rows in seen.values())
    act = ("reprocess", "write-off", "ignore")  # what an unmapped reason line allows
    charge = ("reprocess", "ignore")  # a charge holds no units to write off
    none = ()

    def expect(stock: tuple[str, ...], money: tuple[str, ...]) -> dict[int, list[str]]:
        return {**{i: list(stock) for i in api.stock}, **{i: list(money) for i in api.money}}

    assert seen[Role.VIEWER] == expect(none, none)
    assert seen[Role.OPS] == expect(act, none)
    assert seen[Role.FINANCE] == expect(none, charge)
    assert seen[Role.ADMIN] == expect(act, charge)
    assert "signed in as a <strong>viewer</strong>" in browsers[Role.VIEWER].get("/").text


def test_only_what_the_rules_allow_is_offered(api: Api, browsers: dict[Role, httpx.Client]) -> None:
    send(api.rb, unknown_sku("R-UNKNOWN"))  # holds a unit it cannot value: no ignore, no write-off
    rows = buttons(browsers[Role.OPS].get("/").text)
    unknown = max(rows)
    assert rows[unknown] == ["reprocess"]


def test_one_click_decides_and_is_audited_as_the_api_decides(
    api: Api, browsers: dict[Role, httpx.Client]
) -> None:
    by_page, by_api = api.stock
    ops = browsers[Role.OPS]
    answer = decide(ops, by_page, action="ignore", note=NOTE)
    assert answer.status_code == 303 and answer.headers["location"] == "/#exceptions"
    assert flash(ops) == f"ok: Exception {by_page} (UNMAPPED_REASON) ignored by olga.ops."
    assert status_of(api.rb, by_page) == "ignored"
    assert buttons(ops.get("/").text).keys() == {by_api, *api.money}
    api.client.post(
        f"/api/exceptions/{by_api}/resolve",
        json={"action": "ignore", "note": NOTE},
        headers=api.as_(Role.OPS),
    ).raise_for_status()
    page_row, api_row = audit_rows(api.rb)[-2:]

    def same(row: dict) -> dict:  # type: ignore[type-arg]
        kept = {
            k: v for k, v in row.items() if k not in ("id", "at", "target", "hash", "prev_hash")
        }
        for side in ("before", "after"):
            kept[side] = {
                k: v for k, v in row[side].items() if k not in ("id", "return", "resolved_at")
            }
            kept[side].pop("queued_event", None)
        return kept

    assert page_row["target"] == f"exception:{by_page}"
    assert page_row["actor"] == NAMES[Role.OPS] and page_row["actor_kind"] == "token"
    assert page_row["after"]["decision"] == {"action": "ignore", "note": NOTE}
    assert same(page_row) == same(api_row)


def test_a_form_without_its_session_token_changes_nothing(
    api: Api, browsers: dict[Role, httpx.Client]
) -> None:
    target = api.stock[0]
    before = len(audit_rows(api.rb))
    ops = browsers[Role.OPS]
    for forged in ("", "0" * 64, form_token(browsers[Role.ADMIN].get("/").text)):
        answer = decide(ops, target, action="ignore", note=NOTE, csrf=forged)
        assert answer.status_code == 303
        assert flash(ops) == "error: That page was out of date: nothing was done."
    assert status_of(api.rb, target) == "open" and len(audit_rows(api.rb)) == before


def test_a_role_cannot_act_outside_its_side_by_crafting_the_form(
    api: Api, browsers: dict[Role, httpx.Client]
) -> None:
    target = api.money[0]
    for role in (Role.VIEWER, Role.OPS):
        decide(browsers[role], target, action="ignore", note=NOTE)
        assert flash(browsers[role]) == (
            f"error: Your role ({role.value}) may not act on UNMAPPED_CHARGE."
        )
    assert status_of(api.rb, target) == "open"


def test_a_refused_decision_says_why_and_records_nothing(
    api: Api, browsers: dict[Role, httpx.Client]
) -> None:
    before = len(audit_rows(api.rb))
    decide(browsers[Role.OPS], api.stock[0], action="ignore", note="  ")
    assert flash(browsers[Role.OPS]).startswith("error: Nothing was done: ignoring an exception")
    decide(browsers[Role.OPS], 9_999, action="reprocess")
    assert flash(browsers[Role.OPS]) == "error: There is no exception 9999."
    assert len(audit_rows(api.rb)) == before


def test_revoking_the_token_ends_the_session_and_signing_out_forgets_it(
    api: Api, browsers: dict[Role, httpx.Client]
) -> None:
    with access_transaction(api.rb.engine) as store:
        revoke_tokens(store, NAMES[Role.FINANCE], "setup", api.rb.clock())
    away = browsers[Role.FINANCE].get("/")
    assert away.status_code == 303 and away.headers["location"] == "/login"
    assert "was revoked" in browsers[Role.FINANCE].get("/login").text
    ops = browsers[Role.OPS]
    out = ops.post("/logout", data={"csrf": form_token(ops.get("/").text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert SESSION_COOKIE not in ops.cookies
    assert ops.get("/").status_code == 303


def test_the_page_shows_the_queue_in_plain_words_on_postgresql_too(
    start_api: StartApi, db_url: str
) -> None:
    api = start_api(db_url, stock=1, money=1)
    with httpx.Client(base_url=api.running.url, timeout=10) as client:
        client.post("/login", data={"token": api.tokens[Role.VIEWER]})
        page = client.get("/").text
    assert '<div class="value" id="open-exceptions-count">2</div>' in page
    for words in (
        MEANING[ExceptionCode.UNMAPPED_REASON],
        "Stock changes for Amazon",
        "Events received, not applied yet",
        "No alert is firing",
    ):
        assert words.replace("'", "&#39;") in page, words


def test_every_exception_code_has_a_meaning_in_plain_words() -> None:
    assert set(MEANING) == set(ExceptionCode)
    assert all(text.endswith(".") and "_" not in text for text in MEANING.values())
