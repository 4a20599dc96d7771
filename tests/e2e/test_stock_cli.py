"""The stock authority as a new user meets it, command by command: a fresh database, a ZigZag
day with restocks, `cycle close` with no snapshot (nothing sent), then `import stock` (the
snapshot plus the restocks after its as_of, under Amazon's warehouse ids only)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from replayed_stock import RUN

from returnbridge.entrypoints.cli.demo_amazon import sandbox_env
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.sandboxes.zigzag.generator import CSV_COLUMNS, export_rows

pytestmark = pytest.mark.e2e

CATALOG = """sku,asin,ean,aliases,active,non_inventory,unit_cost,currency,description
CAS-123-BLK-M,B0CAS12345,5012345678900,,true,false,20.00,GBP,Training top
CAS-456-WHT-L,B0CAS45678,5012345678917,,true,false,35.50,GBP,Match shorts
"""
WAREHOUSES = """
[dcs.UK-DC1]
amazon_warehouse = "CASTUK-LHR"

[warehouses.CASTUK-LHR]
stock_authority = "snapshot"
"""
# The cut-off runs on the wall clock: the returns are this morning's.
NOW = datetime.now(UTC).replace(microsecond=0)
EARLY, LATE = NOW - timedelta(hours=5), NOW - timedelta(hours=2)  # graded A
AS_OF = NOW - timedelta(hours=3)  # the WMS's snapshot: after EARLY, before LATE
OPENING = (("CASTUK-LHR", "CAS-123-BLK-M", 50), ("CASTUK-LHR", "CAS-456-WHT-L", 9))


def returned(return_id: str, sku: str, qty: int, graded: datetime) -> list[dict[str, object]]:
    head = {"retailerCode": "CASTORE", "returnId": return_id, "dcWarehouse": "UK-DC1"}
    line = {"lineId": "1", "sku": sku, "quantity": qty, "returnReasonId": 1}
    steps = [
        ("return.registered", graded - timedelta(hours=3), [line]),
        ("return.received", graded - timedelta(hours=1), [line]),
        ("return.graded", graded, [{"lineId": "1", "grade": "A", "quantity": qty}]),
        (
            "return.disposition_set",
            graded + timedelta(minutes=5),
            [{"lineId": "1", "grade": "A", "disposition": "RESTOCK", "quantity": qty}],
        ),
    ]
    return [
        {"id": f"{return_id}-{n}", "type": kind, "occurredAt": at.isoformat(), **head,
         "lines": lines}
        for n, (kind, at, lines) in enumerate(steps)
    ]  # fmt: skip


def rb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*RUN, *args], capture_output=True, text=True, timeout=120, env=env or dict(os.environ)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture
def amazon() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(seed=5, opening_stock=OPENING)) as running:
        yield running


def test_no_snapshot_sends_nothing_then_the_snapshot_plus_later_restocks_is_sent(
    tmp_path: Path, amazon: RunningSandbox
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'rb.db'}"]
    (tmp_path / "catalog.csv").write_text(CATALOG, encoding="utf-8")
    (tmp_path / "warehouses.toml").write_text(WAREHOUSES, encoding="utf-8")
    events = returned("R1", "CAS-123-BLK-M", 2, EARLY) + returned("R2", "cas123blkm", 1, LATE)
    with (tmp_path / "zigzag.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for event in events:
            writer.writerows(export_rows(event))
    rb("db", "upgrade", *db)
    rb("catalog", "load", str(tmp_path / "catalog.csv"), *db)
    rb("mappings", "load", *db)
    loaded = rb("warehouses", "load", str(tmp_path / "warehouses.toml"), *db)
    assert "turn the brand's own inventory feed for CASTUK-LHR off" in loaded.stdout
    rb("import", "zigzag", str(tmp_path / "zigzag.csv"), *db)
    rb("process", *db)
    env = {**os.environ, **sandbox_env(amazon)}

    rb("cycle", "close", "--poll-seconds", "0", *db, env=env)
    assert amazon.sandbox.counters["submitInventoryUpdate"].accepted == 0
    assert dict(amazon.sandbox.stock) == {(w, s): n for w, s, n in OPENING}  # as it was
    listed = rb("exceptions", "list", "--json", *db).stdout
    (held,) = [json.loads(line) for line in listed.splitlines()]
    assert held["code"] == "STOCK_SNAPSHOT_MISSING" and "CASTUK-LHR" in held["message"]

    (tmp_path / "snapshot.csv").write_text(
        "warehouse,sku,available,as_of\n"
        f"UK-DC1,CAS-123-BLK-M,47,{AS_OF.isoformat()}\n"  # a DC code stands for its warehouse
        f"CASTUK-LHR,5012345678917,9,{AS_OF.isoformat()}\n"  # an EAN for its product
        f"CASTUK-LHR,NOT-SOLD-ON-AMAZON,4,{AS_OF.isoformat()}\n",
        encoding="utf-8",
    )
    imported = rb("import", "stock", str(tmp_path / "snapshot.csv"), *db).stdout
    assert "2 position(s) read (CASTUK-LHR 2); 2 taken" in imported
    assert "NOT-SOLD-ON-AMAZON" in imported
    rb("cycle", "close", "--poll-seconds", "0", *db, env=env)
    # 47 counted by the WMS (the two units graded before as_of among them) + 1 graded after.
    assert dict(amazon.sandbox.stock) == {
        ("CASTUK-LHR", "CAS-123-BLK-M"): 48,
        ("CASTUK-LHR", "CAS-456-WHT-L"): 9,
    }
    assert rb("exceptions", "list", "--json", *db).stdout.strip() == ""  # closed by itself
    shown = rb("warehouses", "show", *db).stdout
    assert "CASTUK-LHR" in shown and "UK-DC1" in shown and "snapshot" in shown


def test_a_snapshot_for_a_warehouse_returnbridge_does_not_send_is_refused_whole(
    tmp_path: Path,
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'rb.db'}"]
    (tmp_path / "catalog.csv").write_text(CATALOG, encoding="utf-8")
    (tmp_path / "warehouses.toml").write_text(
        WAREHOUSES.replace('"snapshot"', '"none"'), encoding="utf-8"
    )
    rb("db", "upgrade", *db)
    rb("catalog", "load", str(tmp_path / "catalog.csv"), *db)
    rb("warehouses", "load", str(tmp_path / "warehouses.toml"), *db)
    (tmp_path / "snapshot.csv").write_text(
        "warehouse,sku,available,as_of\n"
        f"CASTUK-LHR,CAS-123-BLK-M,47,{AS_OF.isoformat()}\n"
        f"ELSEWHERE,CAS-123-BLK-M,1,{AS_OF.isoformat()}\n"
        "CASTUK-LHR,CAS-456-WHT-L,-3,yesterday\n",
        encoding="utf-8",
    )
    refused = subprocess.run(
        [*RUN, "import", "stock", str(tmp_path / "snapshot.csv"), *db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    said = " ".join(refused.stderr.split())
    assert "error [stock.invalid] snapshot.csv row 4, field 'available'" in said
    assert "field 'as_of': 'yesterday' is not an ISO 8601 time" in said
    (tmp_path / "snapshot.csv").write_text(
        "warehouse,sku,available,as_of\n"
        f"CASTUK-LHR,CAS-123-BLK-M,47,{AS_OF.isoformat()}\n"
        f"ELSEWHERE,CAS-123-BLK-M,1,{AS_OF.isoformat()}\n",
        encoding="utf-8",
    )
    refused = subprocess.run(
        [*RUN, "import", "stock", str(tmp_path / "snapshot.csv"), *db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 2 and "error [stock.refused]" in said
    assert "stock authority is 'none'" in said and "'ELSEWHERE' is neither" in said
    shown = rb("warehouses", "show", *db).stdout
    assert "0" in shown  # nothing was taken


def test_the_shipped_accounts_load_and_show_each_dc_under_its_account(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'rb.db'}"]
    shipped = Path(__file__).parents[2] / "src" / "returnbridge" / "data"
    rb("db", "upgrade", *db)
    rb("warehouses", "load", str(shipped / "warehouses.toml"), *db)
    loaded = rb("accounts", "load", str(shipped / "accounts.toml"), *db).stdout
    assert "2 account(s)" in loaded and "no account owns" not in loaded
    assert "de: vendor code CASTDE, marketplace A1PA6795UKMFR9 (eu), EUR" in " ".join(
        loaded.split()
    )
    env = {**os.environ, "COLUMNS": "200"}
    shown = " ".join(rb("accounts", "show", *db, env=env).stdout.split())
    assert "UK-DC1 -> CASTUK-LHR, UK-DC2 -> CASTUK-MAN" in shown
    assert "DE-DC1 -> CASTDE-FRA" in shown and "RBCN-DE" in shown
