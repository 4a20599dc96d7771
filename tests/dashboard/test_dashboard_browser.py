"""The dashboard as a person uses it, in a real (headless) Chromium: after a demo day, sign in
with an ops token at ``returnbridge serve`` on loopback, retry an Amazon refusal with one click
(it goes to Amazon again at the next clearing cycle), and see the open count drop, with the
decision in the audit log. The page
logs no console error, fetches nothing from anywhere but the service, and fits a 1366 x 768
laptop screen without sideways scrolling. Screenshots are left in the test's folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dashboard_support import clean_env, cli, free_port, wait_until_healthy

from browser_support import CHROMIUM_ARGS, chromium_path

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(120)]

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def served(tmp_path: Path) -> tuple[Path, str, str]:
    """A small demo day and an ops token for its database: (OUT, database URL, token)."""
    out = tmp_path / "OUT"
    cli(
        "demo",
        "--returns",
        "100",
        "--seed",
        "11",  # a day on which the Amazon sandbox refuses some items: AMAZON_REJECTED is open
        "--transport",
        "csv",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    db = f"sqlite:///{out / 'returnbridge.db'}"
    created = cli(
        "tokens",
        "create",
        "--name",
        "olga.ops",
        "--role",
        "ops",
        "--actor",
        "test",
        "--db",
        db,
        cwd=tmp_path,
    )
    token = created.split()[-1]
    assert token.startswith("rb_"), created
    # Flag late refunds now, so the service's own sweep at start finds nothing new to count.
    cli("rfs", "sweep", "--db", db, cwd=tmp_path)
    return out, db, token


def test_an_ops_person_signs_in_and_retries_an_amazon_refusal_in_one_click(
    served: tuple[Path, str, str], tmp_path: Path
) -> None:
    chromium = chromium_path()
    from playwright.sync_api import ConsoleMessage, Route, sync_playwright

    _, db, token = served
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "returnbridge",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--no-worker",
            "--no-cycles",
            "--no-erp",
            "--no-alerts",
        ],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    errors: list[str] = []
    elsewhere: list[str] = []

    def only_the_service(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == f"127.0.0.1:{port}" or url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    try:
        wait_until_healthy(origin, service)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=LAPTOP)
                page.on("console", console)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.route("**/*", only_the_service)
                page.goto(f"{origin}/")
                assert urlsplit(page.url).path == "/login"
                page.screenshot(path=str(tmp_path / "1-sign-in.png"))
                page.fill("#token", token)
                page.click("button[type=submit]")
                page.wait_for_selector("#open-exceptions-count")
                assert page.inner_text("#who") == "olga.ops"
                before = int(page.inner_text("#open-exceptions-count"))
                width = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
                page.screenshot(path=str(tmp_path / "2-dashboard.png"))
                page.screenshot(path=str(tmp_path / "2-dashboard-full.png"), full_page=True)

                row = page.locator("tr[data-code=AMAZON_REJECTED]").first
                target = int(row.get_attribute("data-exception") or 0)
                row.locator("form.inline button", has_text="Retry").click()  # the one click
                page.wait_for_selector("#flash")
                after = int(page.inner_text("#open-exceptions-count"))
                message = page.inner_text("#flash")
                gone = page.locator(f"tr[data-exception='{target}']").count() == 0
                page.screenshot(path=str(tmp_path / "4-after.png"))
            finally:
                browser.close()
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=20)
        assert service.returncode == 0, err
    finally:
        if service.poll() is None:
            service.kill()
            service.communicate()

    assert after == before - 1 and before > 0
    assert message.startswith(f"Exception {target} (AMAZON_REJECTED) resolved by olga.ops")
    assert message.endswith("It goes to Amazon again at the next clearing cycle.")
    assert gone
    assert errors == []
    assert elsewhere == []
    assert width[0] <= width[1], f"the page scrolls sideways at 1366 px: {width}"
    for shot in ("1-sign-in", "2-dashboard", "2-dashboard-full", "4-after"):
        assert (tmp_path / f"{shot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    logged = cli(
        "audit-log", "list", "--target", f"exception:{target}", "--json", "--db", db, cwd=tmp_path
    )
    rows = [json.loads(line) for line in logged.splitlines()]
    assert [(r["actor"], r["actor_kind"], r["action"]) for r in rows] == [
        ("olga.ops", "token", "exception.resolve")
    ]
    assert rows[0]["after"]["decision"]["action"] == "reprocess"
    assert token not in err
