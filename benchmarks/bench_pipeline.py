"""Pipeline throughput, events/s from inbox to outbox: SQLite, and PostgreSQL with 1 and 2 workers.

The events are a generated ZigZag day (20,000 returns, seed 7) repeated with new return, order
and event ids, streamed into the inbox in batches of 1,000 (so generating a million events does
not hold them in memory) until N distinct events are stored (the day's own redeliveries are
stored once and not counted). Then:

- SQLite: a fresh interpreter drains the inbox (``Processor.drain``); the figure is events/s
  processed, beside events/s of storing them (the ingest alone); its peak RSS is the pipeline's.
- PostgreSQL: a throw-away database on the server, filled the same way once and copied (as a
  template) for each run; W ``returnbridge worker`` processes (the CLI, as deployed) drain it.
  The clock starts at the first processed event (so interpreter start-up is not counted) and
  stops when nothing is pending. 1 worker stands beside the ingest; 2 workers beside 1 worker.

Targets: SQLite >= 10,000 events/s, 1,000,000 events in under 2 minutes, peak RSS < 300 MB;
PostgreSQL >= 4,000 events/s with 2 workers, and more with 2 than with 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import Result, peak_rss_mib, run_child

NAME = "pipeline"
TARGET_RATE = 10_000
TARGET_EVENTS = 1_000_000
TARGET_SECONDS = 120
TARGET_RSS_MIB = 300
TARGET_PG_RATE = 4_000
INGEST_BATCH = 1_000  # the import batch size's default
BASE_RETURNS = 5_000
SEED = 7
PG_ADMIN = os.environ.get(
    "RETURNBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def run(quick: bool, events: int | None = None, pg_events: int | None = None) -> list[Result]:
    events = events or (2_000 if quick else 1_000_000)
    pg_events = pg_events or (2_000 if quick else 1_000_000)
    results = _sqlite(events)
    results.extend(_postgres(pg_events))
    return results


# ---------------------------------------------------------------------------------- SQLite
def _sqlite(events: int) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="rb-bench-pipeline-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        stored = run_child("bench_pipeline", ["ingest", "--events", str(events), "--db", url])
        drained = run_child("bench_pipeline", ["drain", "--db", url])
    rate, seconds = drained["drain_rate"], drained["drain_seconds"]
    params = {
        "events": events,
        "stored": stored["accepted"],
        "delivered": stored["delivered"],
        "processed": drained["processed"],
        "database": "sqlite (file, WAL)",
        "ingest_batch": INGEST_BATCH,
        "batch_size": drained["batch_size"],
        "drain_seconds": round(seconds, 2),
    }
    million = seconds * TARGET_EVENTS / max(drained["processed"], 1)
    measured = drained["processed"] >= TARGET_EVENTS
    return [
        Result(NAME, "SQLite: inbox to outbox", round(rate, 1), "events/s",
               round(stored["ingest_rate"], 1), "events/s (ingest alone)",
               f">= {TARGET_RATE:,} events/s", rate >= TARGET_RATE, params),
        Result(NAME, "SQLite: 1,000,000 events", round(million, 1), "s",
               TARGET_SECONDS, "s (the target)", f"< {TARGET_SECONDS} s",
               measured and million < TARGET_SECONDS, params,
               notes=f"{drained['processed']:,} events in {seconds:.1f} s" if measured else
               f"extrapolated from {drained['processed']:,} events at the measured rate"),
        Result(NAME, "SQLite: peak memory of the drain", round(drained["peak_rss_mib"], 1),
               "MiB", round(drained["start_rss_mib"], 1), "MiB (the interpreter before draining)",
               f"< {TARGET_RSS_MIB} MiB", drained["peak_rss_mib"] < TARGET_RSS_MIB, params),
    ]  # fmt: skip


# ------------------------------------------------------------------------------ PostgreSQL
def _postgres(events: int) -> list[Result]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    template = f"rb_bench_tpl_{uuid.uuid4().hex[:8]}"
    made = [template]
    url = make_url(PG_ADMIN)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{template}"'))
        stored = run_child(
            "bench_pipeline",
            ["ingest", "--events", str(events), "--db", url.set(database=template).render_as_string(
                hide_password=False)],
        )  # fmt: skip
        runs: dict[int, dict[str, Any]] = {}
        for workers in (1, 2):
            name = f"rb_bench_{workers}w_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            made.append(name)
            runs[workers] = _drain_with_workers(
                url.set(database=name).render_as_string(hide_password=False), workers, events
            )
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    one, two = runs[1], runs[2]
    params = {"events": events, "stored": stored["accepted"], "database": "postgresql",
              "ingest_batch": INGEST_BATCH}  # fmt: skip
    return [
        Result(NAME, "PostgreSQL, 1 worker", round(one["rate"], 1), "events/s",
               round(stored["ingest_rate"], 1), "events/s (ingest alone)", None, None,
               {**params, **one}),
        Result(NAME, "PostgreSQL, 2 workers", round(two["rate"], 1), "events/s",
               round(one["rate"], 1), "events/s (1 worker)",
               f">= {TARGET_PG_RATE:,} events/s and more than 1 worker",
               two["rate"] >= TARGET_PG_RATE and two["rate"] > one["rate"], {**params, **two}),
    ]  # fmt: skip


def _drain_with_workers(url: str, workers: int, events: int) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    # Unreadable events are stored 'invalid' at ingest: only 'processed' ones are the workers'.
    # The clock is watched with questions the indexes answer at once (a count of the whole
    # inbox, a sequential scan of a million rows, every 50 ms, would take a core from the
    # workers it measures); the processed events are counted twice, at the start and the end.
    pending_left = text("SELECT EXISTS (SELECT 1 FROM inbox WHERE status = 'pending')")
    any_done = text("SELECT EXISTS (SELECT 1 FROM inbox WHERE status = 'processed')")
    processed = text("SELECT count(*) FROM inbox WHERE status = 'processed'")
    env = {**os.environ, "RETURNBRIDGE_DATABASE_URL": url, "RETURNBRIDGE_LOG_LEVEL": "WARNING"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "returnbridge", "worker", "--interval", "0.2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    try:
        with engine.connect() as conn:
            while not conn.execute(any_done).scalar():
                conn.rollback()
                time.sleep(0.01)
            started = time.perf_counter()
            done_at_start = conn.execute(processed).scalar() or 0
            conn.rollback()
            while conn.execute(pending_left).scalar():
                conn.rollback()
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            done = conn.execute(processed).scalar() or 0
            conn.rollback()
        peaks = [_peak_rss_of(p.pid) for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        errors = [p.communicate(timeout=120)[1] for p in procs]
        engine.dispose()
    if any(p.returncode for p in procs):
        raise RuntimeError(f"a worker failed: {errors}")
    timed = done - done_at_start
    return {
        "workers": workers,
        "rate": timed / seconds,
        "timed_events": timed,
        "seconds": round(seconds, 2),
        "worker_peak_rss_mib": [round(p, 1) for p in peaks if p is not None],
    }


def _peak_rss_of(pid: int) -> float | None:
    """A live process's peak resident set (Linux /proc), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# ------------------------------------------------------------------------ child processes
def stream_events() -> Iterator[dict[str, Any]]:
    """The base day again and again, each copy with its own ids, for as long as asked. The day
    holds ZigZag's own redeliveries (about 4 % of its deliveries), which the inbox stores once."""
    from events import day_for

    base = day_for(BASE_RETURNS * 4, SEED)[1]
    copy = 0
    while True:
        suffix = f"-c{copy}"
        for event in base:
            yield _renamed(event, suffix) if copy else event
        copy += 1


def _renamed(event: dict[str, Any], suffix: str) -> dict[str, Any]:
    out = dict(event)
    for key in ("id", "returnId", "orderNumber", "channelOrderRef", "rmaId"):
        if isinstance(out.get(key), str):
            out[key] = out[key] + suffix
    return out


def child_ingest(events: int, url: str) -> None:
    from events import day_for, load_master_data

    from returnbridge.bootstrap import bootstrap
    from returnbridge.config import Settings
    from returnbridge.connectors.zigzag.webhooks import delivery_record
    from returnbridge.services.pipeline import ingest
    from returnbridge.store.migrate import upgrade

    rb = bootstrap(Settings(database_url=url))
    upgrade(rb.engine)
    with tempfile.TemporaryDirectory(prefix="rb-bench-catalog-") as tmp:
        load_master_data(rb, day_for(BASE_RETURNS * 4, SEED)[0], Path(tmp))
    accepted, batch, seconds = 0, [], 0.0

    def flush() -> None:
        nonlocal accepted, seconds
        started = time.perf_counter()
        with rb.stores() as store:
            accepted += ingest(store, batch, rb.clock()).accepted
        seconds += time.perf_counter() - started
        batch.clear()

    # Deliveries until ``events`` distinct events are stored (the last batches are cut to what
    # is missing, so exactly that many).
    delivered = 0
    for event in stream_events():
        batch.append(delivery_record(json.dumps(event), f"msg_{delivered}"))
        delivered += 1
        if len(batch) >= min(INGEST_BATCH, events - accepted):
            flush()
            if accepted >= events:
                break
    with rb.stores() as store:
        store.analyze_inbox()  # as `returnbridge import` does at the end of a bulk load
    rb.close()
    print(json.dumps({"accepted": accepted, "delivered": delivered,
                      "ingest_rate": accepted / seconds,
                      "peak_rss_mib": peak_rss_mib()}))  # fmt: skip


def child_drain(url: str) -> None:
    from returnbridge.bootstrap import bootstrap
    from returnbridge.config import Settings

    rb = bootstrap(Settings(database_url=url))
    start_rss = peak_rss_mib()
    started = time.perf_counter()
    stats = rb.processor.drain()
    seconds = time.perf_counter() - started
    rb.close()
    print(json.dumps({"processed": stats.total, "drain_rate": stats.total / seconds,
                      "drain_seconds": seconds, "batch_size": rb.settings.batch_size,
                      "start_rss_mib": start_rss, "peak_rss_mib": peak_rss_mib()}))  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("step", choices=["ingest", "drain"])
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    if not args.child:
        sys.exit("run through benchmarks/run.py")
    if args.step == "ingest":
        child_ingest(args.events, args.db)
    else:
        child_drain(args.db)
