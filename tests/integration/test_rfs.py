"""Refund at first scan: goods that never come (RFS_NOT_RECEIVED) and goods that come back
damaged or different (SAFE-T claim candidates, 60 days from the refund)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline_support import full_return, refund_at_first_scan, send

from returnbridge.bootstrap import App
from returnbridge.entrypoints.cli.rfs import sweep
from returnbridge.services.rfs import claim_candidates, claim_rules, refunded_cases
from returnbridge.store.rfs import rfs_transaction

REFUNDED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)  # as refund_at_first_scan() says


def _open_codes(rb: App, code: str) -> list[str]:
    with rb.stores() as store:
        return [r.message for r in store.list_exceptions("open", code, 100)]


def test_an_rfs_whose_goods_never_come_is_flagged_after_the_window_once(rb: App) -> None:
    send(rb, refund_at_first_scan("order-of-R9", "RFS-9"), source="amazon")
    rb.clock.now = REFUNDED_AT + timedelta(days=13)  # type: ignore[attr-defined]
    assert (sweep(rb).opened, sweep(rb).waiting) == (0, 1)
    assert _open_codes(rb, "RFS_NOT_RECEIVED") == []
    rb.clock.now = REFUNDED_AT + timedelta(days=15)  # type: ignore[attr-defined]
    assert sweep(rb).opened == 1
    assert sweep(rb).opened == 0  # one per case, however often the sweep runs
    (message,) = _open_codes(rb, "RFS_NOT_RECEIVED")
    assert "order-of-R9" in message and "40.00 GBP" in message and "14 days" in message


def test_the_flag_closes_by_itself_when_the_goods_arrive_late(rb: App) -> None:
    send(rb, refund_at_first_scan("order-of-R9", "RFS-9"), source="amazon")
    rb.clock.now = REFUNDED_AT + timedelta(days=20)  # type: ignore[attr-defined]
    assert sweep(rb).opened == 1
    send(rb, *full_return("R9", "CAS-123-BLK-M", "A", "RESTOCK"))
    assert sweep(rb).closed == 1
    assert _open_codes(rb, "RFS_NOT_RECEIVED") == []


def test_a_refunded_return_graded_damaged_or_different_is_a_claim_candidate(rb: App) -> None:
    for n in (1, 2, 3):
        send(rb, refund_at_first_scan(f"order-of-R{n}", f"RFS-{n}"), source="amazon")
    send(
        rb,
        *full_return("R1", "CAS-123-BLK-M", "D", "DESTROY"),  # damaged
        *full_return("R2", "CAS-456-WHT-L", "A", "RESTOCK"),  # another product came back
        *full_return("R3", "CAS-123-BLK-M", "A", "RESTOCK"),  # what was refunded, sellable
    )
    with rfs_transaction(rb.engine) as store:
        cases = list(refunded_cases(store))
    masterdata = rb.processor.masterdata
    candidates = {
        c.return_id: c for c in claim_candidates(cases, masterdata.catalog, masterdata.mappings)
    }
    assert set(candidates) == {"R1", "R2"}
    assert candidates["R1"].deadline == REFUNDED_AT + timedelta(days=60)
    assert "graded D (write_off)" in candidates["R1"].reason
    assert "CAS-456-WHT-L, refunded as CAS-123-BLK-M" in candidates["R2"].reason
    assert candidates["R1"].refund_minor == 4000


def test_claims_list_shows_the_deadline_sixty_days_after_the_refund(rb: App) -> None:
    send(rb, refund_at_first_scan("order-of-R1", "RFS-1"), source="amazon")
    send(rb, *full_return("R1", "CAS-123-BLK-M", "D", "DESTROY"))
    command = ["claims", "list", "--json", "--db", rb.settings.database_url]
    listed = subprocess.run(
        [sys.executable, "-m", "returnbridge", *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    (claim,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert claim["deadline"] == "2026-12-31T10:00:00+00:00"
    assert (claim["order_id"], claim["return_id"], claim["refund"]) == (
        "order-of-R1",
        "R1",
        "40.00",
    )


def test_rfs_not_received_can_only_be_ignored_with_a_note(rb: App) -> None:
    import pytest

    from returnbridge.domain.errors import ExceptionActionRefused
    from returnbridge.services.exceptions import Action, Resolution, resolve

    send(rb, refund_at_first_scan("order-of-R9", "RFS-9"), source="amazon")
    rb.clock.now = REFUNDED_AT + timedelta(days=30)  # type: ignore[attr-defined]
    sweep(rb)
    with rb.stores() as store:
        (record,) = store.list_exceptions("open", "RFS_NOT_RECEIVED", 1)
    with pytest.raises(ExceptionActionRefused, match="closes by itself"):
        resolve(rb.stores, record.id, Resolution(Action.REPROCESS, "ops"), rb.processor)
    note = "lost in transit; SAFE-T claim 123"
    closed = resolve(
        rb.stores, record.id, Resolution(Action.IGNORE, "ops", note=note), rb.processor
    )
    assert closed.status == "ignored"


def test_over_return_can_only_be_ignored_with_a_note(rb: App) -> None:
    import pytest

    from returnbridge.domain.errors import ExceptionActionRefused
    from returnbridge.services.exceptions import Action, Resolution, resolve

    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2))
    with rb.stores() as store:
        case = store.case_by_key("zz:R1")
        assert case is not None
        store.add_exception(
            "OVER_RETURN", "2 received, 1 approved", "{}", rb.clock(), case_id=case.id, line_id="1"
        )
        (record,) = store.list_exceptions("open", "OVER_RETURN", 1)
    for action in (Action.REPROCESS, Action.WRITE_OFF):
        with pytest.raises(ExceptionActionRefused, match="agree the extra units"):
            resolve(rb.stores, record.id, Resolution(action, "ops", note="x"), rb.processor)
    note = "agreed with Amazon"
    closed = resolve(
        rb.stores, record.id, Resolution(Action.IGNORE, "ops", note=note), rb.processor
    )
    assert closed.status == "ignored"


US_AND_UK = """
[dcs.UK-DC1]
amazon_warehouse = "CASTUK-LHR"
[dcs.DE-DC1]
amazon_warehouse = "CASTUS-JFK"
[warehouses.CASTUK-LHR]
[warehouses.CASTUS-JFK]
"""
ACCOUNTS = """
[accounts.uk]
region = "eu"
marketplace = "UK"
selling_party = "CASTUK"
warehouses = ["CASTUK-LHR"]
lwa_client_id_env = "UK_ID"
lwa_client_secret_env = "UK_SECRET"
lwa_refresh_token_env = "UK_REFRESH"

[accounts.us]
region = "na"
marketplace = "US"
selling_party = "CASTUS"
warehouses = ["CASTUS-JFK"]
lwa_client_id_env = "US_ID"
lwa_client_secret_env = "US_SECRET"
lwa_refresh_token_env = "US_REFRESH"
"""


def test_a_us_account_claims_within_30_days_of_the_later_of_delivery_and_refund(
    rb: App, tmp_path: Path
) -> None:
    (tmp_path / "warehouses.toml").write_text(US_AND_UK, encoding="utf-8")
    (tmp_path / "accounts.toml").write_text(ACCOUNTS, encoding="utf-8")
    rb.load_warehouses(tmp_path / "warehouses.toml")
    rb.load_accounts(tmp_path / "accounts.toml")
    for n in (1, 2):
        send(rb, refund_at_first_scan(f"order-of-R{n}", f"RFS-{n}"), source="amazon")
    uk = full_return("R1", "CAS-123-BLK-M", "D", "DESTROY")
    us = full_return("R2", "CAS-123-BLK-M", "D", "DESTROY")
    for event in us:
        event["dcWarehouse"] = "DE-DC1"  # restocks into CASTUS-JFK: the us account's
    send(rb, *uk, *us)
    with rfs_transaction(rb.engine) as store:
        cases = list(refunded_cases(store))
    masterdata = rb.processor.masterdata
    rules = claim_rules(rb.accounts(), rb.warehouse_map())
    found = {
        c.return_id: c
        for c in claim_candidates(cases, masterdata.catalog, masterdata.mappings, rules)
    }
    received = datetime.fromisoformat(next(e for e in us if e["type"] == "return.received")[
        "occurredAt"])  # fmt: skip
    assert received > REFUNDED_AT  # delivered after the refund: the window starts at delivery
    assert (found["R2"].account, found["R2"].delivered_at) == ("us", received)
    assert found["R2"].deadline == received + timedelta(days=30)
    assert (found["R1"].account, found["R1"].deadline) == ("uk", REFUNDED_AT + timedelta(days=60))
    assert found["R1"].route.words.startswith("a dispute in Vendor Central")
