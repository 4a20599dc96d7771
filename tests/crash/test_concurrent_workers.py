"""Property: workers draining one PostgreSQL inbox at once end where one worker ends.

For a small seeded day delivered in any order, two or three workers (threads, each with its
own engine and processor, as separate processes would have) apply the inbox side by side; the
final state, by natural keys (``crash_state``), equals that of one worker applying the same
inbox, every event is applied, and the reconciliation holds.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crash_state import differences, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from private_postgres import PrivatePostgres
from pydantic import ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.connectors.zigzag.records import inbox_record
from returnbridge.connectors.zigzag.wire import WireEvent
from returnbridge.domain.errors import StoreUnavailable
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.zigzag.generator import generate_day, write_catalog
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import InboxRecord
from returnbridge.services.reconcile import check
from returnbridge.store.migrate import upgrade
from returnbridge.store.readmodels import SqlLedgerAudit
from returnbridge.store.tables import metadata

pytestmark = [pytest.mark.crash, pytest.mark.postgres]

DAYS = {seed: generate_day(8, seed) for seed in range(3)}
DRAIN_SECONDS = 60


def _records(seed: int) -> list[InboxRecord]:
    """The day's distinct events as the transports store them (ZigZag's by the connector's
    own record builder, so the case keys are the real ones), then Amazon's refunds."""
    day = DAYS[seed]
    records = []
    for event in {e["id"]: e for e in day.events}.values():
        try:
            records.append(inbox_record(WireEvent.model_validate(event)))
        except ValidationError:
            payload = json.dumps(event)
            records.append(
                InboxRecord(
                    "zigzag", event["id"], event["type"], payload, f"zz:{event['returnId']}"
                )
            )
    for refund in day.refunds:
        records.append(
            InboxRecord(
                "amazon",
                refund["id"],
                refund["type"],
                json.dumps(refund),
                f"order:{refund['orderId']}",
            )
        )
    return records


class Databases:
    """A database per day (schema, catalog, mappings), emptied of everything else before each
    use: quicker than a copy per example."""

    # Kept: the master data, and the audit log, which refuses TRUNCATE (the pipeline never
    # writes it).
    KEPT = frozenset({"catalog_items", "config_documents", "audit_log"})

    def __init__(self, admin_url: str, folder: Path) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.folder = folder
        self.days: dict[int, str] = {}

    def fresh(self, seed: int) -> str:
        """The day's database with its master data and nothing else."""
        if seed not in self.days:
            name = f"rb_prop_{uuid.uuid4().hex[:12]}"
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)
            self.days[seed] = url
            rb = bootstrap(Settings(database_url=url))
            try:
                upgrade(rb.engine)
                catalog = self.folder / f"catalog-{seed}.csv"
                write_catalog(DAYS[seed], catalog)
                rb.load_catalog(catalog)
                rb.load_mappings(DEFAULT_MAPPINGS)
            finally:
                rb.close()
            return url
        url = self.days[seed]
        engine = create_engine(url)
        try:
            names = [t.name for t in metadata.sorted_tables if t.name not in self.KEPT]
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        finally:
            engine.dispose()
        return url

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for url in self.days.values():
                name = make_url(url).database
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="module")
def databases(
    private_postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    """On the crash tests' own server (no fsync: quicker), which nothing restarts while this
    test runs (a session's tests run one at a time)."""
    dbs = Databases(private_postgres.url(), tmp_path_factory.mktemp("templates"))
    try:
        yield dbs
    finally:
        dbs.drop_all()


def _drain(rb: App, deadline: float) -> None:
    """Apply until the inbox has nothing pending: a claim may come back empty while another
    worker holds the events it would take, so an empty batch is not the end. A database that
    did not answer (a deadlock, say) is tried again, as the service's loop does."""
    while time.monotonic() < deadline:
        try:
            rb.processor.drain()
            with rb.stores() as store:
                if not store.inbox_pending():
                    return
        except StoreUnavailable:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"the inbox was not drained within {DRAIN_SECONDS}s")


def _apply(
    databases: Databases, seed: int, records: list[InboxRecord], workers: int, batch: int
) -> dict[str, Any]:
    url = databases.fresh(seed)
    apps = [bootstrap(Settings(database_url=url, batch_size=batch)) for _ in range(workers)]
    try:
        with apps[0].stores() as store:
            ingest(store, records, apps[0].clock())
        start = threading.Barrier(workers)
        failures: list[BaseException] = []
        deadline = time.monotonic() + DRAIN_SECONDS

        def work(rb: App) -> None:
            try:
                start.wait()
                _drain(rb, deadline)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(rb,)) for rb in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        state = snapshot(apps[0].engine, None, None)
        with apps[0].engine.connect() as conn:
            state["reconcile breaches"] = sorted(
                f"{b.invariant.value}: {b.detail}" for b in check(SqlLedgerAudit(conn))
            )
        return state
    finally:
        for rb in apps:
            rb.close()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    seed=st.sampled_from(sorted(DAYS)),
    workers=st.integers(2, 3),
    batch=st.sampled_from([1, 3, 10]),
)
@pytest.mark.timeout(180)
def test_workers_draining_one_inbox_together_end_where_one_worker_ends(
    databases: Databases, data: st.DataObject, seed: int, workers: int, batch: int
) -> None:
    records = data.draw(st.permutations(_records(seed)), label="delivery order")
    alone = _apply(databases, seed, records, 1, batch)
    assert alone["lines"], "the day must produce lines for the property to mean anything"
    assert not alone["reconcile breaches"], alone["reconcile breaches"]
    together = _apply(databases, seed, records, workers, batch)
    diff = differences(alone, together)
    assert not diff, f"{workers} workers (batches of {batch}) differ from one:\n" + "\n".join(diff)
