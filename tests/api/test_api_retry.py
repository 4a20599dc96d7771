"""Retrying an exception over HTTP: the same decision as ``reprocess`` without a re-map, taken
with the catalog and mappings in force, under the same roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import NAMES, Api, StartApi, audit_rows

from returnbridge.domain.auth import Role
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS

pytestmark = pytest.mark.integration


@pytest.fixture
def api(start_api: StartApi) -> Api:
    return start_api(stock=1, money=1)


def test_a_retry_reprocesses_with_the_mappings_in_force(api: Api, tmp_path: Path) -> None:
    [stock] = api.stock
    retry = f"/api/exceptions/{stock}/retry"
    barred = api.client.post(retry, headers=api.as_(Role.VIEWER))
    assert (barred.status_code, barred.json()["code"]) == (403, "forbidden")
    money = api.client.post(f"/api/exceptions/{api.money[0]}/retry", headers=api.as_(Role.OPS))
    assert money.status_code == 403 and money.json()["roles"] == ["finance", "admin"]

    # Nothing changed yet: the retry is recorded, and the reason is still unmapped.
    again = api.client.post(retry, headers=api.as_(Role.OPS))
    assert again.status_code == 200, again.text
    assert [e["code"] for e in again.json()["still_open"]] == ["UNMAPPED_REASON"]

    # Reason 42 mapped: the retry lets the line flow.
    mappings = tmp_path / "mappings.toml"
    text = DEFAULT_MAPPINGS.read_text(encoding="utf-8")
    mappings.write_text(
        text.replace(
            '"8" = "QUALITY_NOT_ADEQUATE"', '"8" = "QUALITY_NOT_ADEQUATE"\n"42" = "DEFECTIVE"'
        ),
        encoding="utf-8",
    )
    api.rb.load_mappings(mappings)
    done = api.client.post(retry, json={"note": "reason 42 mapped"}, headers=api.as_(Role.OPS))
    assert done.status_code == 200, done.text
    outcome = done.json()
    assert outcome["exception"]["status"] == "resolved" and outcome["still_open"] == []
    shown = api.client.get(f"/api/exceptions/{stock}", headers=api.as_(Role.VIEWER)).json()
    assert [(a["action"], a["actor"]) for a in shown["actions"]] == [
        ("reprocess", NAMES[Role.OPS]),
        ("reprocess", NAMES[Role.OPS]),
    ]
    assert shown["actions"][1]["note"] == "reason 42 mapped"
    assert [r["target"] for r in audit_rows(api.rb)[-2:]] == [f"exception:{stock}"] * 2
    unknown = api.client.post(retry, json={"note": "x", "sku": "Y"}, headers=api.as_(Role.OPS))
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_request")
