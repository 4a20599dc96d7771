"""The work-claim path alone: returnbridge's inbox against pgqueuer, on the same PostgreSQL.

A fresh interpreter takes N jobs: the events of a generated ZigZag day (seed 7), each once, as
inbox records (the event's id, its return's case key, its JSON as the payload), so each is one
pending job with the day's payloads and cases (about four events each, spread out). Each queue
gets throw-away databases on the server (``rb_bench_claim_<pid>_*``, dropped afterwards):

- enqueue: one producer stores the N jobs in batches of 1,000, one transaction each
  (``SqlStore.add_to_inbox``; pgqueuer's list ``Queries.enqueue``). Each table is analyzed
  after its first batch and at the end, as autovacuum keeps a live server's statistics: without
  statistics ``add_to_inbox``'s duplicate lookup scans the whole inbox (see the README).
- drain: K consumer processes (2), connected before the clock starts, each loop: claim a batch
  of 200, complete it, commit, until nothing is pending (a claim that finds nothing while the
  other consumer still holds the last jobs polls again after 1 ms). The clock runs from the
  consumers' start to the last one's end.

  returnbridge, over two copies of the filled database: ``SqlStore.claim_inbox`` (``FOR UPDATE
  SKIP LOCKED``, keeping each case's order) then ``SqlStore.mark_inbox`` per job, as
  ``Processor`` once did, in one transaction; and the batch marked at once
  (``SqlStore.mark_inbox_many``, one ``UPDATE``). pgqueuer 1.6, its schema
  installed by its own ``Queries.install``, over psycopg's async connection (the driver
  returnbridge uses): ``Queries.dequeue`` (status ``picked``, committed) then
  ``Queries.log_jobs`` (the batch moves to its log table).

Figures: jobs/s drained, and jobs/s enqueued, each beside pgqueuer's in the same run (same
server, N, batch sizes and consumers). Target: returnbridge >= pgqueuer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from harness import Result, run_child

NAME = "claim"
PG_ADMIN = os.environ.get(
    "RETURNBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENQUEUE_BATCH = 1_000  # the import batch size's default
CLAIM_BATCH = 200  # the worker's batch size's default
CONSUMERS = 2
ENTRYPOINT = "zigzag"
SEED = 7
MISS_SLEEP = 0.001
HEARTBEAT_TIMEOUT = timedelta(seconds=30)


def run(quick: bool, jobs: int | None = None, consumers: int = CONSUMERS) -> list[Result]:
    jobs = jobs or (5_000 if quick else 100_000)
    child = run_child("bench_claim", ["--jobs", str(jobs), "--consumers", str(consumers)])
    per_row, batched, pgq = child["returnbridge"], child["returnbridge_batched"], child["pgqueuer"]
    params = {
        "jobs": jobs,
        "consumers": consumers,
        "enqueue_batch": ENQUEUE_BATCH,
        "claim_batch": CLAIM_BATCH,
        "database": "postgresql: throw-away databases on one server (returnbridge's inbox filled"
        " once and copied per completion; pgqueuer's own)",
        "server": child["server"],
        "pgqueuer_version": child["pgqueuer_version"],
        "pgqueuer_driver": "psycopg (async, autocommit)",
    }

    def drain(queue: dict[str, Any]) -> dict[str, Any]:
        return {
            "drain_seconds": round(queue["drain_seconds"], 2),
            "claims": queue["claims"],
            "empty_claims": queue["misses"],
            "per_consumer": queue["per_consumer"],
            "cpu_seconds": round(queue["cpu_seconds"], 2),
        }

    target = ">= pgqueuer's jobs/s"
    results = []
    for label, queue, how in (
        ("claim + mark_inbox per job", per_row, "SqlStore.mark_inbox per job"),
        ("claim + one UPDATE per batch", batched, "SqlStore.mark_inbox_many, one UPDATE"),
    ):
        rate, base = queue["drain_rate"], pgq["drain_rate"]
        results.append(
            Result(
                NAME,
                f"drain: {label}",
                round(rate, 1),
                "jobs/s",
                round(base, 1),
                "jobs/s (pgqueuer dequeue + log_jobs)",
                target,
                rate >= base,
                {
                    **params,
                    "completion": how,
                    "returnbridge": drain(queue),
                    "pgqueuer": drain(pgq),
                    "all_done": queue["done"] == jobs and pgq["done"] == jobs,
                },
                notes=f"{rate / base:.2f}x pgqueuer",
            )
        )
    enqueue, base = per_row["enqueue_rate"], pgq["enqueue_rate"]
    results.append(
        Result(
            NAME,
            "enqueue",
            round(enqueue, 1),
            "jobs/s",
            round(base, 1),
            "jobs/s (pgqueuer enqueue)",
            target,
            enqueue >= base,
            {
                **params,
                "returnbridge_seconds": round(per_row["enqueue_seconds"], 2),
                "pgqueuer_seconds": round(pgq["enqueue_seconds"], 2),
            },
            notes=f"{enqueue / base:.2f}x pgqueuer",
        )
    )
    return results


# --------------------------------------------------------------------------- the jobs
def _jobs(count: int) -> list[Any]:
    """``count`` pending inbox records: a generated day's events, each once, as a webhook stores
    them (its id, type and return's case key; its JSON as the payload), without parsing each."""
    from returnbridge.connectors.zigzag.wire import SOURCE
    from returnbridge.sandboxes.zigzag.generator import generate_day
    from returnbridge.services.ports import InboxRecord

    returns = max(1, count // 4)
    while True:
        events = {e["id"]: e for e in generate_day(returns, SEED).events}  # duplicates once
        if len(events) >= count:
            break
        returns *= 2
    return [
        InboxRecord(
            source=SOURCE,
            event_id=event["id"],
            event_type=event["type"],
            payload=json.dumps(event, sort_keys=True),
            case_key=f"zz:{event['returnId']}",
        )
        for event in list(events.values())[:count]
    ]


# ----------------------------------------------------------------- the consumers' loops
def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _returnbridge_consumer(url: str, batched: bool, ready: Any, out: Any) -> None:
    from returnbridge.store.engine import make_engine
    from returnbridge.store.sql import transaction

    engine = make_engine(url)
    with engine.connect():
        pass  # the pool's connection is open before the clock starts
    ready.wait()
    started, cpu = time.monotonic(), _cpu()
    done = claims = misses = 0
    while True:
        with transaction(engine) as store:
            rows = store.claim_inbox(CLAIM_BATCH)
            now = datetime.now(UTC)
            if batched:
                store.mark_inbox_many([row.id for row in rows], "processed", now)
            else:
                for row in rows:
                    store.mark_inbox(row.id, "processed", now)
            pending = 0 if rows else store.inbox_pending()
        claims += 1
        done += len(rows)
        if not rows:
            if not pending:
                break
            misses += 1
            time.sleep(MISS_SLEEP)
    ended = time.monotonic()
    engine.dispose()
    out.put(
        {
            "done": done,
            "claims": claims,
            "misses": misses,
            "start": started,
            "end": ended,
            "cpu": _cpu() - cpu,
        }
    )


def _pgqueuer_consumer(dsn: str, ready: Any, out: Any) -> None:
    out.put(asyncio.run(_pgqueuer_loop(dsn, ready)))


async def _pgqueuer_loop(dsn: str, ready: Any) -> dict[str, Any]:
    import psycopg
    from pgqueuer.queries import EntrypointExecutionParameter, Queries
    from pgqueuer.types import QueueEntrypoint, QueueManagerId

    entrypoint = QueueEntrypoint(ENTRYPOINT)
    entrypoints = {entrypoint: EntrypointExecutionParameter(concurrency_limit=0)}
    manager = QueueManagerId(uuid4())
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        queries = Queries.from_psycopg_connection(conn)
        ready.wait()
        started, cpu = time.monotonic(), _cpu()
        done = claims = misses = 0
        while True:
            jobs = await queries.dequeue(CLAIM_BATCH, entrypoints, manager, None, HEARTBEAT_TIMEOUT)
            claims += 1
            if jobs:
                await queries.log_jobs([(job, "successful", None) for job in jobs])
                done += len(jobs)
                continue
            if not await queries.queued_work([entrypoint]):
                break
            misses += 1
            await asyncio.sleep(MISS_SLEEP)
        ended = time.monotonic()
    return {
        "done": done,
        "claims": claims,
        "misses": misses,
        "start": started,
        "end": ended,
        "cpu": _cpu() - cpu,
    }


def _drain(target: Any, args: tuple[Any, ...], consumers: int) -> dict[str, Any]:
    """Run ``consumers`` processes of ``target`` from one start; their combined figures."""
    spawn = multiprocessing.get_context("spawn")
    ready, out = spawn.Barrier(consumers + 1), spawn.Queue()
    procs = [spawn.Process(target=target, args=(*args, ready, out)) for _ in range(consumers)]
    for proc in procs:
        proc.start()
    ready.wait(timeout=120)
    reports = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"a consumer failed ({proc.exitcode})")
    seconds = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    done = sum(r["done"] for r in reports)
    return {
        "done": done,
        "drain_seconds": seconds,
        "drain_rate": done / seconds,
        "claims": sum(r["claims"] for r in reports),
        "misses": sum(r["misses"] for r in reports),
        "per_consumer": [r["done"] for r in reports],
        "cpu_seconds": sum(r["cpu"] for r in reports),
    }


# ------------------------------------------------------------------------ per queue
def _returnbridge_fill(url: str, jobs: list[Any]) -> dict[str, Any]:
    from sqlalchemy import text

    from returnbridge.store.engine import make_engine
    from returnbridge.store.migrate import upgrade
    from returnbridge.store.sql import transaction

    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    started = time.perf_counter()
    for at in range(0, len(jobs), ENQUEUE_BATCH):
        with transaction(engine) as store:
            store.add_to_inbox(jobs[at : at + ENQUEUE_BATCH], now)
        if not at:  # what autovacuum does on a live server (see the module's docstring)
            with engine.begin() as conn:
                conn.execute(text("ANALYZE inbox"))
    seconds = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(text("ANALYZE inbox"))
    engine.dispose()
    return {"enqueue_seconds": seconds, "enqueue_rate": len(jobs) / seconds}


def _returnbridge_drain(url: str, count: int, consumers: int, batched: bool) -> dict[str, Any]:
    from sqlalchemy import func, select

    from returnbridge.store.engine import make_engine
    from returnbridge.store.tables import inbox

    drained = _drain(_returnbridge_consumer, (url, batched), consumers)
    engine = make_engine(url)
    with engine.connect() as conn:
        processed = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.status == "processed")
        ).scalar_one()
    engine.dispose()
    if processed != count or drained["done"] != count:
        raise RuntimeError(f"{processed} of {count} inbox rows processed: {drained}")
    return drained


async def _pgqueuer_fill(dsn: str, jobs: list[Any]) -> dict[str, Any]:
    import psycopg
    from pgqueuer.queries import Queries

    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        queries = Queries.from_psycopg_connection(conn)
        await queries.install()
        payloads = [job.payload.encode("utf-8") for job in jobs]
        started = time.perf_counter()
        for at in range(0, len(payloads), ENQUEUE_BATCH):
            chunk = payloads[at : at + ENQUEUE_BATCH]
            await queries.enqueue([ENTRYPOINT] * len(chunk), list(chunk), [0] * len(chunk))
            if not at:
                await conn.execute("ANALYZE pgqueuer")
        seconds = time.perf_counter() - started
        await conn.execute("ANALYZE pgqueuer")
    return {"enqueue_seconds": seconds, "enqueue_rate": len(jobs) / seconds}


def _pgqueuer_drain(dsn: str, count: int, consumers: int) -> dict[str, Any]:
    drained = _drain(_pgqueuer_consumer, (dsn,), consumers)
    if drained["done"] != count:
        raise RuntimeError(f"pgqueuer completed {drained['done']} of {count} jobs")
    return drained


def child(count: int, consumers: int) -> None:
    from importlib.metadata import version

    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    jobs = _jobs(count)
    admin_url = make_url(PG_ADMIN).set(drivername="postgresql")
    names = {q: f"rb_bench_claim_{os.getpid()}_{q}" for q in ("rb", "rb1", "rb2", "pgq")}

    def url(queue: str, driver: str = "postgresql+psycopg") -> str:
        at = admin_url.set(drivername=driver, database=names[queue])
        return at.render_as_string(hide_password=False)

    made: list[str] = []
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as admin:

        def create(queue: str, template: str | None = None) -> None:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(names[queue]))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(names[template]))
            admin.execute(statement)
            made.append(names[queue])

        try:
            server = admin.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            create("rb")
            filled = _returnbridge_fill(url("rb"), jobs)
            # The same filled inbox, copied, for each way of completing a batch.
            create("rb1", template="rb")
            per_row = filled | _returnbridge_drain(url("rb1"), count, consumers, batched=False)
            create("rb2", template="rb")
            batched = filled | _returnbridge_drain(url("rb2"), count, consumers, batched=True)
            create("pgq")
            dsn = url("pgq", "postgresql")
            pgq = asyncio.run(_pgqueuer_fill(dsn, jobs)) | _pgqueuer_drain(dsn, count, consumers)
        finally:
            for name in made:
                drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                admin.execute(drop.format(sql.Identifier(name)))
    print(
        json.dumps(
            {
                "server": server,
                "pgqueuer_version": version("pgqueuer"),
                "returnbridge": per_row,
                "returnbridge_batched": batched,
                "pgqueuer": pgq,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--consumers", type=int, default=CONSUMERS)
    args = parser.parse_args()
    if not args.child:
        sys.exit("run through benchmarks/run.py")
    child(args.jobs, args.consumers)
