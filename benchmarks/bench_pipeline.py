"""Pipeline throughput, events/s from inbox to outbox: SQLite, and PostgreSQL with 1 and 2 workers.

The events are a generated ZigZag day (20,000 returns, seed 7) repeated with new return, order
and event ids, streamed into the inbox in batches of 1,000 (so generating a million events does
not hold them in memory) until N distinct events are stored (the day's own redeliveries are
stored once and not counted). The events are stored once per run, in a SQLite inbox. Then:

- PostgreSQL: a throw-away database on the server gets the same inbox, its rows copied with
  ``COPY`` before SQLite drains its own (not generated and ingested again).
- SQLite: a fresh interpreter drains its inbox (``Processor.drain``); the figure is events/s
  processed, beside events/s of storing them (the ingest alone); its peak RSS is the pipeline's.
- PostgreSQL drains all of it, as a peak-season backlog would be: one ``returnbridge worker``
  (the CLI, as deployed) takes the first third, then a second worker joins and the two share
  the rest. Each figure is the events processed while that many workers ran, over the time they
  ran; the first starts at the first processed event (interpreter start-up is not counted), the
  second when the second worker has connected. 1 worker stands beside SQLite's one writer on the
  same events; 2 workers beside 1 worker (on the later two thirds, where the tables are bigger).

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
from contextlib import contextmanager
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
ONE_WORKER_SHARE = 1 / 3  # of the PostgreSQL backlog, drained before the second worker joins
MEASURABLE = 10_000  # events processed by 2 workers, at least, for their figure to mean much
PG_ADMIN = os.environ.get(
    "RETURNBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def run(quick: bool, events: int | None = None) -> list[Result]:
    events = events or (2_000 if quick else 1_000_000)
    with (
        tempfile.TemporaryDirectory(prefix="rb-bench-pipeline-") as tmp,
        _postgres_database() as url,
    ):
        inbox = f"sqlite:///{Path(tmp) / 'inbox.db'}"
        stored = run_child("bench_pipeline", ["ingest", "--events", str(events), "--db", inbox])
        # PostgreSQL gets the inbox before SQLite drains it (in place)
        filled = run_child("bench_pipeline", ["fill", "--db", url, "--source", inbox])
        sqlite = run_child("bench_pipeline", ["drain", "--db", inbox])
        phases = _drain_scaling_out(url, filled["pending"])
    return [*_sqlite(events, stored, sqlite), *_postgres(stored, sqlite, filled, phases)]


# ---------------------------------------------------------------------------------- SQLite
def _sqlite(events: int, stored: dict[str, Any], drained: dict[str, Any]) -> list[Result]:
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
@contextmanager
def _postgres_database() -> Iterator[str]:
    """A throw-away database on the server (dropped afterwards, whatever happens); its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"rb_bench_pipeline_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _postgres(
    stored: dict[str, Any],
    sqlite: dict[str, Any],
    filled: dict[str, Any],
    phases: tuple[dict[str, Any], dict[str, Any]],
) -> list[Result]:
    one, two = phases
    params = {"events": stored["accepted"], "pending": filled["pending"],
              "database": "postgresql", "fill": "the SQLite inbox before its drain, by COPY",
              "fill_seconds": filled["seconds"], "processed": two.pop("processed"),
              "one_worker_share": round(ONE_WORKER_SHARE, 3)}  # fmt: skip
    return [
        Result(NAME, "PostgreSQL, 1 worker", round(one["rate"], 1), "events/s",
               round(sqlite["drain_rate"], 1), "events/s (SQLite, one writer, same events)",
               None, None, {**params, **one}),
        Result(NAME, "PostgreSQL, 2 workers", round(two["rate"], 1), "events/s",
               round(one["rate"], 1), "events/s (1 worker)",
               f">= {TARGET_PG_RATE:,} events/s and more than 1 worker",
               two["rate"] >= TARGET_PG_RATE and two["rate"] > one["rate"], {**params, **two},
               notes="" if two["events"] >= MEASURABLE else
               f"only {two['events']:,} events after the second worker joined: too few to "
               "measure (more --events)"),
    ]  # fmt: skip


def _drain_scaling_out(url: str, pending: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """One worker drains the first ``ONE_WORKER_SHARE`` of the backlog, then a second joins;
    the events processed and the seconds of each phase, and the workers' peak memory.

    The drain is watched with questions the indexes answer at once (a count of the whole
    inbox, a sequential scan of a million rows, every 50 ms, would take a core from the
    workers it measures); the processed events are counted at the phases' ends only."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(url)
    first_pending = text(
        "SELECT id FROM inbox WHERE status = 'pending' ORDER BY id LIMIT 1"
    )  # the partial index of pending events, in id order
    any_done = text("SELECT EXISTS (SELECT 1 FROM inbox WHERE status = 'processed')")
    processed = text("SELECT count(*) FROM inbox WHERE status = 'processed'")
    # each worker's connections carry its name (libpq's application_name, from the URL)
    joined = text("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = :name)")
    procs: list[subprocess.Popen[str]] = []

    def start_worker() -> None:
        named = make_url(url).update_query_dict({"application_name": f"bench-worker-{len(procs)}"})
        env = {
            **os.environ,
            "RETURNBRIDGE_LOG_LEVEL": "WARNING",
            "RETURNBRIDGE_DATABASE_URL": named.render_as_string(hide_password=False),
        }
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "returnbridge", "worker", "--interval", "0.2"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip

    def ask(conn: Any, query: Any, **params: Any) -> Any:
        value = conn.execute(query, params).scalar()
        conn.rollback()  # each question sees the workers' latest commits
        return value

    try:
        with engine.connect() as conn:
            boundary = ask(conn, text(
                "SELECT id FROM inbox WHERE status = 'pending' ORDER BY id"
                " OFFSET :n LIMIT 1"), n=int(pending * ONE_WORKER_SHARE))  # fmt: skip
            start_worker()
            while not ask(conn, any_done):
                time.sleep(0.01)
            t0, c0 = time.perf_counter(), ask(conn, processed)
            while (ask(conn, first_pending) or boundary + 1) <= boundary:
                time.sleep(0.05)
            t1, c1 = time.perf_counter(), ask(conn, processed)
            start_worker()
            while not ask(conn, joined, name="bench-worker-1"):
                time.sleep(0.01)
            t2, c2 = time.perf_counter(), ask(conn, processed)
            while ask(conn, first_pending) is not None:
                time.sleep(0.05)
            t3, c3 = time.perf_counter(), ask(conn, processed)
        peaks = [_peak_rss_of(p.pid) for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        errors = [p.communicate(timeout=120)[1] for p in procs]
        engine.dispose()
    # A worker stopped before it set up its signal handlers (a tiny run can end that early)
    # dies of the SIGTERM itself: nothing was in flight. Any other exit but 0 is a failure.
    if any(p.returncode not in (0, -signal.SIGTERM) for p in procs):
        raise RuntimeError(f"a worker failed: {[p.returncode for p in procs]} {errors}")
    rss = [round(p, 1) for p in peaks if p is not None]
    one = {"workers": 1, "events": c1 - c0, "seconds": round(t1 - t0, 2),
           "rate": (c1 - c0) / (t1 - t0), "worker_peak_rss_mib": rss[:1]}  # fmt: skip
    two = {"workers": 2, "events": c3 - c2, "seconds": round(t3 - t2, 2),
           "rate": (c3 - c2) / (t3 - t2), "worker_peak_rss_mib": rss,
           "joined_after_seconds": round(t2 - t1, 2), "processed": c3}  # fmt: skip
    return one, two


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


def child_fill(url: str, source: str) -> None:
    """A new PostgreSQL database with the SQLite inbox (and the exceptions of its unreadable
    events), row for row with the same ids, written with ``COPY``; the same master data."""
    from events import day_for, load_master_data
    from sqlalchemy import create_engine, select, text

    from returnbridge.bootstrap import bootstrap
    from returnbridge.config import Settings
    from returnbridge.store.bulk import insert_many
    from returnbridge.store.migrate import upgrade
    from returnbridge.store.tables import exceptions, inbox

    started = time.perf_counter()
    rb = bootstrap(Settings(database_url=url))
    upgrade(rb.engine)
    with tempfile.TemporaryDirectory(prefix="rb-bench-catalog-") as tmp:
        load_master_data(rb, day_for(BASE_RETURNS * 4, SEED)[0], Path(tmp))
    sqlite = create_engine(source)
    with sqlite.connect() as src, rb.engine.begin() as dst:
        for table in (inbox, exceptions):
            query = select(table).order_by(table.c.id)
            rows = src.execution_options(yield_per=10_000).execute(query)
            for chunk in rows.mappings().partitions():
                insert_many(dst, table, [dict(row) for row in chunk])
            dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                             f" (SELECT max(id) FROM {table.name}))"))  # fmt: skip
    with rb.stores() as store:
        store.analyze_inbox()  # as `returnbridge import` does at the end of a bulk load
    with rb.engine.connect() as conn:
        pending = conn.execute(text("SELECT count(*) FROM inbox WHERE status = 'pending'")).scalar()
    sqlite.dispose()
    rb.close()
    print(json.dumps({"pending": pending, "seconds": round(time.perf_counter() - started, 1)}))


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
    parser.add_argument("step", choices=["ingest", "drain", "fill"])
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--db", required=True)
    parser.add_argument("--source", help="fill: the SQLite inbox's URL")
    args = parser.parse_args()
    if not args.child:
        sys.exit("run through benchmarks/run.py")
    if args.step == "ingest":
        child_ingest(args.events, args.db)
    elif args.step == "fill":
        child_fill(args.db, args.source)
    else:
        child_drain(args.db)
