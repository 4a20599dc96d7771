"""`returnbridge doctor` as an operator runs it before go-live, configured by environment only:
one row per check, exit 0 when everything configured answers, exit 1 with the fix when not,
never a traceback and never a secret."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from replayed_stock import RUN

from returnbridge.entrypoints.cli.demo_amazon import sandbox_env
from returnbridge.sandboxes.amazon.config import (
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    SandboxConfig,
)
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.sandboxes.erp.server import start_erp_sandbox
from returnbridge.sandboxes.zigzag.config import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    ZigZagSandboxConfig,
)
from returnbridge.sandboxes.zigzag.server import start_sandbox as start_zigzag_sandbox

pytestmark = pytest.mark.e2e

CATALOG = """sku,asin,ean,aliases,active,non_inventory,unit_cost,currency,description
CAS-123-BLK-M,B0CAS12345,5012345678900,,true,false,20.00,GBP,Training top
CAS-456-WHT-L,B0CAS45678,5012345678917,,true,false,35.50,GBP,Match shorts
"""
WRONG_SECRET = "amzn1.oa2-cs.v1.wrong-secret-doctor-7c2e"
WIDE = {"COLUMNS": "240"}  # one table row a line, however long its detail


def rb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUN, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **WIDE, **(env or {})},
    )


def rows(output: str) -> dict[str, tuple[str, str]]:
    """Each table row's check name to its (status, detail)."""
    found = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 3 and cells[1] in ("ok", "FAIL", "off"):
            found[cells[0]] = (cells[1], cells[2])
    return found


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    """A database upgraded, with a small catalog and the shipped mappings loaded."""
    option = ["--db", f"sqlite:///{tmp_path / 'rb.db'}"]
    (tmp_path / "catalog.csv").write_text(CATALOG, encoding="utf-8")
    for step in (("db", "upgrade"), ("catalog", "load", str(tmp_path / "catalog.csv"))):
        assert rb(*step, *option).returncode == 0
    assert rb("mappings", "load", *option).returncode == 0
    return option


@pytest.fixture
def amazon() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(seed=3)) as running:
        yield running


def test_every_configured_check_is_ok_against_the_sandboxes(
    db: list[str], amazon: RunningSandbox
) -> None:
    with (
        start_zigzag_sandbox(ZigZagSandboxConfig(returns=1)) as zigzag,
        start_erp_sandbox() as erp,
    ):
        webhook = f"{erp.url}/services/T000/B000/webhook-secret-path"
        checked = rb(
            "doctor",
            *db,
            env={
                **sandbox_env(amazon),
                "RETURNBRIDGE_ZIGZAG_API_URL": zigzag.url,
                "RETURNBRIDGE_ZIGZAG_API_USERNAME": DEFAULT_USERNAME,
                "RETURNBRIDGE_ZIGZAG_API_PASSWORD": DEFAULT_PASSWORD,
                "RETURNBRIDGE_ERP_ENDPOINT_URL": erp.batches_url,
                "RETURNBRIDGE_ALERT_WEBHOOK_URL": webhook,
            },
        )

    said = checked.stdout + checked.stderr
    assert checked.returncode == 0, said
    found = rows(checked.stdout)
    configured = ["settings", "database", "catalog", "mappings", "amazon", "zigzag", "erp"]
    assert all(found[name][0] == "ok" for name in [*configured, "alert webhook"]), said
    assert found["catalog"][1] == "2 items"
    assert "404" in found["amazon"][1]  # the probe's unknown transaction: credentials work
    assert found["warehouses"][0] == found["accounts"][0] == "off"
    assert "doctor: 8 ok, 0 failed, 2 off" in checked.stdout
    assert webhook not in said and DEFAULT_PASSWORD not in said
    assert DEFAULT_CLIENT_SECRET not in said and DEFAULT_REFRESH_TOKEN not in said


def test_a_wrong_amazon_secret_fails_the_amazon_row_naming_the_setting_and_no_secret(
    db: list[str], amazon: RunningSandbox
) -> None:
    env = {**sandbox_env(amazon), "RETURNBRIDGE_AMAZON_CLIENT_SECRET": WRONG_SECRET}
    checked = rb("doctor", *db, env=env)

    said = checked.stdout + checked.stderr
    assert checked.returncode == 1, said
    status, detail = rows(checked.stdout)["amazon"]
    assert status == "FAIL" and "RETURNBRIDGE_AMAZON_CLIENT_SECRET" in detail, said
    assert "doctor: 4 ok, 1 failed, 5 off" in checked.stdout
    assert "Traceback" not in said
    for secret in (WRONG_SECRET, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN):
        assert secret not in said


def test_a_database_not_upgraded_fails_the_database_row_with_the_fix(tmp_path: Path) -> None:
    checked = rb("doctor", "--db", f"sqlite:///{tmp_path / 'fresh.db'}")

    said = checked.stdout + checked.stderr
    assert checked.returncode == 1, said
    status, detail = rows(checked.stdout)["database"]
    assert status == "FAIL" and "returnbridge db upgrade" in detail, said
    assert "Traceback" not in said
