"""The loops ``serve`` runs beside its HTTP app, against the Amazon and ERP sandboxes: what the
settings allow runs, the rest says why; the loops apply the inbox, close a clearing cycle and
deliver the journals, and one stop ends them all."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.entrypoints.cli.demo_amazon import sandbox_env
from returnbridge.entrypoints.service import LoopOptions, LoopThreads, plan_loops
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.sandboxes.erp.server import RunningErpSandbox, start_erp_sandbox
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import InboxRecord
from returnbridge.store.migrate import upgrade

pytestmark = pytest.mark.integration

# The service runs on the wall clock: the day's returns are this morning's, after the WMS's
# snapshot of the night (a fresh one, as a cut-off sees it).
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
SNAPSHOT_AS_OF = T0 - timedelta(hours=1)
WAREHOUSES = """
[dcs.UK-DC1]
amazon_warehouse = "AMZ-UK1"

[warehouses.AMZ-UK1]
stock_authority = "snapshot"
"""
CATALOG = """sku,asin,ean,aliases,active,non_inventory,unit_cost,currency,description
CAS-123-BLK-M,B0CAS12345,5012345678900,,true,false,20.00,GBP,Training top
"""
LOOPS = LoopOptions(
    alerts=False, rfs_sweep=False, interval=0.05, erp_every=0.2, cycle_poll_seconds=0.05
)


def restocked(return_id: str) -> list[InboxRecord]:
    """A one-line return received, graded A and restocked."""
    line = {"lineId": "1", "sku": "CAS-123-BLK-M", "quantity": 1, "returnReasonId": 3}
    steps: list[tuple[str, dict[str, Any]]] = [
        ("return.registered", {"lines": [line]}),
        ("return.received", {"lines": [line]}),
        (
            "return.disposition_set",
            {"lines": [{"lineId": "1", "grade": "A", "disposition": "RESTOCK"}]},
        ),
    ]
    records = []
    for n, (kind, body) in enumerate(steps):
        event = {
            "id": f"{return_id}-{n}",
            "type": kind,
            "occurredAt": (T0 + timedelta(hours=n)).isoformat(),
            "retailerCode": "CASTORE",
            "returnId": return_id,
            "dcWarehouse": "UK-DC1",
            "channelOrderRef": f"order-of-{return_id}",
            **body,
        }
        records.append(
            InboxRecord("zigzag", event["id"], kind, json.dumps(event), f"zz:{return_id}")
        )
    return records


def send(rb: App, records: list[InboxRecord]) -> None:
    with rb.stores() as store:
        ingest(store, records, rb.clock())


def pending(rb: App) -> int:
    with rb.stores() as store:
        return store.inbox_pending()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen in 20 s"
        time.sleep(0.02)


@pytest.fixture
def partners() -> Iterator[tuple[RunningSandbox, RunningErpSandbox]]:
    with start_sandbox(SandboxConfig(seed=1)) as amazon, start_erp_sandbox() as erp:
        yield amazon, erp


def app(tmp_path: Path, **settings: Any) -> App:
    rb = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'rb.db'}", **settings))
    upgrade(rb.engine)
    (tmp_path / "catalog.csv").write_text(CATALOG, encoding="utf-8")
    rb.load_catalog(tmp_path / "catalog.csv")
    rb.load_mappings(DEFAULT_MAPPINGS)
    (tmp_path / "warehouses.toml").write_text(WAREHOUSES, encoding="utf-8")
    rb.load_warehouses(tmp_path / "warehouses.toml")
    (tmp_path / "stock.csv").write_text(
        f"warehouse,sku,available,as_of\nAMZ-UK1,CAS-123-BLK-M,40,{SNAPSHOT_AS_OF.isoformat()}\n",
        encoding="utf-8",
    )
    rb.import_stock(tmp_path / "stock.csv")
    return rb


def test_without_partners_configured_only_the_worker_runs_and_the_rest_says_why(
    tmp_path: Path,
) -> None:
    rb = app(tmp_path)
    try:
        plan = plan_loops(rb, LOOPS)
    finally:
        rb.close()
    assert [loop.name for loop in plan.loops] == ["inbox"]
    assert "RETURNBRIDGE_AMAZON_CLIENT_ID" in plan.off[0]
    assert "RETURNBRIDGE_ERP_ENDPOINT_URL" in plan.off[1]


def test_the_loops_apply_the_inbox_close_a_cycle_deliver_journals_and_stop_together(
    tmp_path: Path,
    partners: tuple[RunningSandbox, RunningErpSandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    amazon, erp = partners
    for name, value in sandbox_env(amazon).items():
        monkeypatch.setenv(name, value)
    rb = app(tmp_path, erp_endpoint_url=erp.batches_url)
    try:
        send(rb, restocked("R1"))
        rb.processor.drain()  # ready before the cycle that runs at start (none ran yet)
        plan = plan_loops(rb, replace(LOOPS, erp_out=tmp_path / "erp"))
        assert [loop.name for loop in plan.loops] == ["inbox", "cycles", "erp"]
        stop = threading.Event()
        threads = LoopThreads(plan.loops, stop)
        threads.start()
        try:
            # The snapshot's 40 and the restocked unit, under Amazon's warehouse id.
            wait_for(lambda: amazon.sandbox.stock == {("AMZ-UK1", "CAS-123-BLK-M"): 41}, "a cycle")
            wait_for(lambda: len(erp.sandbox.accepted) == 1, "an ERP delivery")
            send(rb, restocked("R2"))
            wait_for(lambda: pending(rb) == 0, "the worker")
        finally:
            stop.set()
            busy = threads.join(10)
        assert busy == []
        assert all(not t.is_alive() for t in threads.threads)
        assert sorted(p.name for p in (tmp_path / "erp").iterdir())[0].endswith(".csv")
    finally:
        rb.close()
