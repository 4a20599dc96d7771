"""Two ``returnbridge worker`` processes share one PostgreSQL inbox: every event is applied
once, each return case's events in the order they arrived, and the books end as one worker
alone would have left them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select

from returnbridge.bootstrap import bootstrap
from returnbridge.config import Settings
from returnbridge.connectors.zigzag.webhooks import delivery_record
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.zigzag.generator import feed_events, generate_day, write_catalog
from returnbridge.services.pipeline import ingest
from returnbridge.store.migrate import upgrade
from returnbridge.store.tables import (
    case_events,
    inbox,
    journal_entries,
    journal_lines,
    outbox,
    return_cases,
    stock_movements,
)

pytestmark = pytest.mark.postgres

RETURNS = 150
SEED = 5


def _load_day(url: str, folder: Path) -> int:
    """A generated day's master data and events, stored in the inbox; returns how many."""
    day = generate_day(RETURNS, SEED)
    records = [delivery_record(json.dumps(e), f"msg_{n}") for n, e in enumerate(feed_events(day))]
    rb = bootstrap(Settings(database_url=url))
    upgrade(rb.engine)
    write_catalog(day, folder / "catalog.csv")
    rb.load_catalog(folder / "catalog.csv")
    rb.load_mappings(DEFAULT_MAPPINGS)
    with rb.stores() as store:
        accepted = ingest(store, records, rb.clock()).accepted
    rb.close()
    return accepted


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(inbox).where(inbox.c.status == "pending")
            ).scalar_one()
        )


def _books(engine: Engine) -> dict[str, Any]:
    """What the events caused, by natural key: keys start with the case's database id, which
    depends on which worker met the case first, so it is replaced by the case key."""
    with engine.connect() as conn:
        cases = {r.id: r.case_key for r in conn.execute(select(return_cases))}

        def natural(key: str) -> str:
            case_id, _, rest = key.partition("/")
            return f"{cases[int(case_id)]}/{rest}"

        def message(payload: str) -> dict[str, Any]:
            body: dict[str, Any] = json.loads(payload)
            body["case"] = cases[body["case"]]
            for name in ("movement_key", "entry_key", "reverses"):
                if body.get(name):
                    body[name] = natural(body[name])
            return body

        postings: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        for r in conn.execute(select(journal_lines).order_by(journal_lines.c.id)):
            postings[r.entry_id].append((r.account, int(r.debit), int(r.credit)))
        return {
            "stock": sorted(
                (natural(r.movement_key), r.warehouse, r.sku, int(r.quantity))
                for r in conn.execute(select(stock_movements))
            ),
            "journals": sorted(
                (natural(r.entry_key), r.kind, tuple(postings[r.id]))
                for r in conn.execute(select(journal_entries))
            ),
            "outbox": sorted(
                (
                    r.topic,
                    r.message_key.split("/")[0],
                    natural(r.message_key.partition("/")[2]),
                    json.dumps(message(r.payload), sort_keys=True),
                )
                for r in conn.execute(select(outbox))
            ),
        }


def test_two_workers_apply_each_event_once_and_each_case_in_arrival_order(
    postgres_url: str, tmp_path: Path
) -> None:
    events = _load_day(postgres_url, tmp_path)
    env = {
        **os.environ,
        "RETURNBRIDGE_DATABASE_URL": postgres_url,
        "RETURNBRIDGE_BATCH_SIZE": "10",  # small batches: the two workers interleave often
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "returnbridge", "worker", "--interval", "0.05"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    engine = create_engine(postgres_url)
    try:
        _drain_and_check(engine, workers, events, postgres_url, tmp_path)
    finally:
        engine.dispose()


def _drain_and_check(
    engine: Engine, workers: list[subprocess.Popen[str]], events: int, url: str, folder: Path
) -> None:
    try:
        deadline = time.monotonic() + 120
        while _pending(engine) and time.monotonic() < deadline:
            assert all(w.poll() is None for w in workers), "a worker exited early"
            time.sleep(0.2)
        assert _pending(engine) == 0, "the workers did not drain the inbox in 120 s"
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        logs = [w.communicate(timeout=60)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    assert not any("Traceback" in log for log in logs), logs

    with engine.connect() as conn:
        rows = conn.execute(
            select(inbox.c.id, inbox.c.case_key, inbox.c.status, inbox.c.attempts,
                   inbox.c.processed_by)
        ).all()  # fmt: skip
        applied = conn.execute(
            select(case_events.c.id, case_events.c.inbox_id).order_by(case_events.c.id)
        ).all()
    processed = [r for r in rows if r.status == "processed"]
    assert len(processed) == events
    assert {r.attempts for r in processed} == {1}, "an event was applied more than once"
    assert len({r.processed_by for r in processed}) == 2, "both workers should have had work"
    # No event applied twice: one case event per processed inbox row, and no other.
    assert sorted(a.inbox_id for a in applied) == sorted(r.id for r in processed)

    # Each case's events were applied (case_events.id, a sequence taken at insert) in the
    # order they arrived (inbox.id).
    case_of = {r.id: r.case_key for r in rows}
    order: dict[str, list[int]] = defaultdict(list)
    for a in applied:
        order[case_of[a.inbox_id]].append(a.inbox_id)
    out_of_order = {key: ids for key, ids in order.items() if ids != sorted(ids)}
    assert not out_of_order, f"applied out of arrival order: {out_of_order}"
    assert sum(len(ids) > 1 for ids in order.values()) > RETURNS // 2

    # The same events through one worker alone leave the same books.
    alone = f"sqlite:///{folder / 'alone.db'}"
    (folder / "one").mkdir()
    _load_day(alone, folder / "one")
    rb = bootstrap(Settings(database_url=alone))
    rb.processor.drain()
    try:
        assert _books(engine) == _books(rb.engine)
    finally:
        rb.close()

    check = subprocess.run(
        [sys.executable, "-m", "returnbridge", "reconcile", "--check", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
