"""``/readyz`` over real HTTP: ready while the database and the configured partners answer, 503
naming what failed once a partner is down; partner checks are kept a few seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.entrypoints.http import readiness, start_service
from returnbridge.sandboxes.erp.server import start_erp_sandbox
from returnbridge.sandboxes.zigzag.server import start_sandbox
from returnbridge.store.migrate import upgrade

pytestmark = pytest.mark.integration

CACHE = 0.5


@pytest.fixture
def rb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setattr(readiness, "PARTNER_CACHE_SECONDS", CACHE)
    app = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'rb.db'}"))
    upgrade(app.engine)
    yield app
    app.close()


def test_readyz_needs_only_the_database_when_no_partner_is_configured(rb: App) -> None:
    with start_service(rb) as running:
        answer = httpx.get(f"{running.url}/readyz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readyz_is_503_naming_the_partner_that_went_down(rb: App) -> None:
    erp = start_erp_sandbox()
    zigzag = start_sandbox()
    try:
        settings = rb.settings.model_copy(
            update={"erp_endpoint_url": erp.batches_url, "zigzag_api_url": zigzag.url}
        )
        with start_service(App(settings, rb.engine, rb.processor, rb.clock)) as running:
            ready = httpx.get(f"{running.url}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "zigzag": "ok", "erp": "ok"}
            erp.stop()
            kept = httpx.get(f"{running.url}/readyz", timeout=10)
            assert kept.status_code == 200  # the partners' answers are kept a moment
            time.sleep(CACHE)
            down = httpx.get(f"{running.url}/readyz", timeout=10)
            assert down.status_code == 503
            body = down.json()
            assert body["code"] == "not_ready" and "erp: unreachable" in body["message"]
            assert body["checks"]["database"] == "ok" and body["checks"]["zigzag"] == "ok"
            assert body["checks"]["erp"].startswith("unreachable")
            assert erp.batches_url not in down.text
            assert httpx.get(f"{running.url}/healthz", timeout=10).status_code == 200
    finally:
        erp.stop()
        zigzag.stop()
