"""The crash harness: the demo day on PostgreSQL while workers die, the server restarts and the
partners fail, then the proof that nothing was lost or counted twice.

A run, for a seed and a day size:

1. a fresh database on the private server, upgraded, with the day's catalog, mappings,
   warehouse map and opening stock snapshot (as ``returnbridge demo`` loads them; the Amazon
   sandbox starts holding the same stock);
2. the day's ZigZag export and Amazon refunds fed into the inbox in chunks while two
   ``returnbridge worker`` processes drain it; one of them is SIGKILLed at random moments
   (seeded) and started again, like a supervisor would; the server is restarted once
   (``pg_ctl restart -m immediate``) half way; a worker that exits by itself is started again
   and reported;
3. the Amazon leg: ``returnbridge cycle close`` against the Amazon sandbox answering a share of
   requests with 429, 500/503 or a connection cut after applying them (transient faults: they
   are retried, never rejected), a few cycle processes SIGKILLed mid-cycle, then cycles until
   nothing is pending; and ``returnbridge export erp`` to the ERP sandbox answering 503 at
   first, one export killed, then exports until every batch is delivered;
4. ``returnbridge reconcile --check`` and a snapshot of the final state (``crash_state``).

A fault-free run is the same with no kills, no restart and no faults; the two snapshots must
be equal. Every command runs as its own process, forked from ``cli_zygote`` (see there why).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from crash_state import snapshot
from private_postgres import PrivatePostgres
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from zygote_client import Zygote

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.connectors.zigzag.csv_export import read_export
from returnbridge.domain.errors import StoreUnavailable
from returnbridge.entrypoints.cli.demo_amazon import sandbox_env
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.masterdata.warehouses_toml import DEFAULT_WAREHOUSES
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.sandboxes.erp.server import RunningErpSandbox, start_erp_sandbox
from returnbridge.sandboxes.zigzag.generator import generate_day, write_catalog, write_export
from returnbridge.sandboxes.zigzag.stock import opening_stock, write_stock_snapshot
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import InboxRecord
from returnbridge.store.migrate import upgrade
from returnbridge.store.tables import amazon_submissions, erp_exports, inbox, outbox

HERE = Path(__file__).resolve().parent
SABOTAGE_MODULE = "outbox_after_commit"
WORKERS = ("worker-1", "worker-2")
MIN_UPTIME = 0.25  # a victim has started up and is likely inside a batch


@dataclass(frozen=True)
class Options:
    """One run's knobs; ``fault_free()`` turns every fault off."""

    seed: int = 3
    returns: int = 300
    chunks: int = 30
    batch_size: int = 10
    kills: int = 50  # SIGKILLs of workers made while the inbox has pending work
    restart_postgres: bool = True
    amazon_faults: float = 0.25  # share of Amazon requests answered 429 / 5xx / cut
    erp_faults: int = 3  # ERP requests answered 503 before it takes any
    cycle_kills: int = 3
    export_kills: int = 1
    sabotage: bool = False  # the outbox write moved after the commit (outbox_after_commit)
    time_limit: float = 70.0  # seconds for the worker phase

    def fault_free(self) -> Options:
        return replace(
            self,
            kills=0,
            restart_postgres=False,
            amazon_faults=0.0,
            erp_faults=0,
            cycle_kills=0,
            export_kills=0,
            sabotage=False,
        )


@dataclass
class Result:
    """What a run did and what it ended with."""

    kills: int = 0
    kills_with_work: int = 0
    cycle_kills: int = 0
    export_kills: int = 0
    postgres_restarts: int = 0
    restart_seconds: float = 0.0
    amazon_faults: int = 0
    erp_faults: int = 0
    unexpected_exits: list[str] = field(default_factory=list)
    loop_failures: int = 0
    cycles: int = 0
    exports: int = 0
    worker_phase_seconds: float = 0.0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    commands: list[str] = field(default_factory=list)  # each command run to its end
    incomplete: list[str] = field(default_factory=list)  # what was still pending at the end
    sabotage_installed: bool = False
    reconcile_ok: bool = False
    reconcile_output: str = ""
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def partner_faults(self) -> int:
        return self.amazon_faults + self.erp_faults

    def summary(self, verdict: str) -> str:
        return (
            f"crash harness: {self.kills} kills ({self.kills_with_work} with work pending), "
            f"{self.cycle_kills} cycle kills, {self.export_kills} export kills, "
            f"{self.postgres_restarts} PostgreSQL restart(s) ({self.restart_seconds:.1f}s), "
            f"{self.partner_faults} partner faults injected ({self.amazon_faults} Amazon, "
            f"{self.erp_faults} ERP), {len(self.unexpected_exits)} unexpected exit(s), "
            f"{self.loop_failures} worker loop failure(s) logged, "
            f"reconcile {'ok' if self.reconcile_ok else 'FAILED'}, {verdict}, "
            f"{self.seconds:.0f}s ({', '.join(f'{k} {v:.0f}s' for k, v in self.phases.items())})"
        )


def _refund_records(day: Any) -> list[InboxRecord]:
    """The Amazon refunds at first scan as the demo ingests them."""
    return [
        InboxRecord("amazon", r["id"], r["type"], json.dumps(r), f"order:{r['orderId']}")
        for r in day.refunds
    ]


KILLS_OWED_AT = 0.4  # the share of the work by which every kill should have been made


def _chunks(records: list[InboxRecord], n: int) -> list[list[InboxRecord]]:
    size = max(1, -(-len(records) // n))
    return [records[i : i + size] for i in range(0, len(records), size)]


def _sabotage_path(work: Path) -> str:
    """A folder with a ``sitecustomize`` that installs the sabotage in every process started
    with it on PYTHONPATH (the zygote, so every command forked from it)."""
    folder = work / "sabotage"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        f"import {SABOTAGE_MODULE}\n{SABOTAGE_MODULE}.install()\n", encoding="utf-8"
    )
    return os.pathsep.join(p for p in (str(folder), str(HERE), os.environ.get("PYTHONPATH")) if p)


class Run:
    """One harness run on one fresh database of ``pg``."""

    def __init__(self, pg: PrivatePostgres, work: Path, options: Options) -> None:
        self.pg = pg
        self.work = work
        self.options = options
        self.rng = random.Random(f"crash-harness/{options.seed}")
        self.opening: tuple[tuple[str, str, int], ...] = ()  # the stock Amazon starts with
        self.result = Result()
        self.url = pg.create_database(f"rb_crash_{uuid.uuid4().hex[:10]}")
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.rb: App = bootstrap(Settings(database_url=self.url))
        self.env = {
            "RETURNBRIDGE_DATABASE_URL": self.url,
            "RETURNBRIDGE_BATCH_SIZE": str(options.batch_size),
        }

    # ------------------------------------------------------------------ the day
    def prepare(self) -> list[list[InboxRecord]]:
        upgrade(self.rb.engine)
        day = generate_day(self.options.returns, self.options.seed)
        catalog, export = self.work / "catalog.csv", self.work / "zigzag-export.csv"
        write_catalog(day, catalog)
        write_export(day, export)
        self.rb.load_catalog(catalog)
        self.rb.load_mappings(DEFAULT_MAPPINGS)
        warehouses, snapshot = self.work / "warehouses.toml", self.work / "stock-snapshot.csv"
        # The replayed day is weeks old by the wall clock the cycles run on: its opening
        # snapshot is taken as fresh (freshness has tests of its own).
        warehouses.write_text(
            re.sub(
                r"^snapshot_max_age_hours = .*$",
                "snapshot_max_age_hours = 8760",
                DEFAULT_WAREHOUSES.read_text(encoding="utf-8"),
                flags=re.M,
            ),
            encoding="utf-8",
        )
        mapped = self.rb.load_warehouses(warehouses)
        self.opening = tuple(opening_stock(day, mapped.warehouses))
        write_stock_snapshot(self.opening, snapshot)
        self.rb.import_stock(snapshot)
        records = list(read_export(export)) + _refund_records(day)
        return _chunks(records, self.options.chunks)

    def _count(self, query: Any) -> int | None:
        try:
            with self.rb.engine.connect() as conn:
                return int(conn.execute(query).scalar_one())
        except SQLAlchemyError:
            return None  # the server is restarting

    def pending(self) -> int | None:
        return self._count(
            select(func.count()).select_from(inbox).where(inbox.c.status == "pending")
        )

    def _feed(self, chunk: list[InboxRecord]) -> bool:
        try:
            with self.rb.stores() as store:
                ingest(store, chunk, self.rb.clock())
            return True
        except (StoreUnavailable, SQLAlchemyError):  # the server is restarting: again later
            return False

    # ------------------------------------------------------------------ workers
    def _start_worker(self, zygote: Zygote, name: str) -> None:
        zygote.spawn(name, ["worker", "--interval", "0.1"], self.env)

    def _supervise(self, zygote: Zygote) -> None:
        """Start again any worker that exited by itself, noting how it ended."""
        for name in WORKERS:
            status = zygote.status(name)
            if status is None:
                continue
            tail = _tail(self.logs / f"{name}.log")
            self.result.unexpected_exits.append(f"{name} exited {status}: {tail}")
            self._start_worker(zygote, name)

    def _behind(self, unprocessed: int, total: int) -> bool:
        """Whether the kills are behind a schedule that owes them all by the time 40 % of the
        work is applied (so they are made while there is work to interrupt, with the last
        chunks left to catch up on however fast the workers apply them)."""
        done = 1 - unprocessed / total
        return self.result.kills_with_work < self.options.kills * min(1.0, done / KILLS_OWED_AT)

    def worker_phase(self, zygote: Zygote, chunks: list[list[InboxRecord]]) -> None:
        options, result = self.options, self.result
        low_water = 2 * options.batch_size
        started = time.monotonic()
        fed = 0
        while not self._feed(chunks[fed]):
            time.sleep(0.1)
        fed += 1
        for name in WORKERS:
            self._start_worker(zygote, name)
        next_kill = started + self.rng.uniform(0.2, 0.6)
        total = sum(len(c) for c in chunks)
        while True:
            now = time.monotonic()
            if now - started > options.time_limit:
                result.incomplete.append(
                    f"worker phase stopped at its {options.time_limit:.0f}s limit"
                )
                break
            self._supervise(zygote)
            pending = self.pending()
            if pending is None:
                time.sleep(0.05)
                continue
            unprocessed = pending + sum(len(c) for c in chunks[fed:])
            behind = options.kills > 0 and self._behind(unprocessed, total)
            # The next chunk when the inbox runs low; while the kills are behind, only once
            # it ran dry (the workers wait a moment while the kills catch up).
            hungry = pending == 0 or (pending < low_water and not behind)
            if fed < len(chunks) and hungry and self._feed(chunks[fed]):
                pending += len(chunks[fed])
                fed += 1
            if options.restart_postgres and not result.postgres_restarts and fed > len(chunks) // 2:
                result.restart_seconds = self.pg.restart("immediate")
                result.postgres_restarts += 1
                continue
            unprocessed = pending + sum(len(c) for c in chunks[fed:])
            if not unprocessed:  # the day is applied
                break
            if options.kills and now >= next_kill and pending:
                self._kill_one(zygote, pending)
                pace = 0.15 if self._behind(unprocessed, total) else 0.6
                next_kill = time.monotonic() + self.rng.uniform(0.5, 1.5) * pace
            time.sleep(0.01)
        result.worker_phase_seconds = time.monotonic() - started
        if result.kills_with_work < options.kills:
            result.incomplete.append(
                f"the day was applied after {result.kills_with_work} of {options.kills} kills"
            )
        for name in WORKERS:  # a stop: each finishes (or rolls back) its batch and exits 0
            time.sleep(max(0.0, zygote.started_at[name] + 1.0 - time.monotonic()))  # started up
            if zygote.running(name):
                zygote.stop(name)
        for name in WORKERS:
            status = zygote.wait(name, 30)
            if status != 0:
                result.unexpected_exits.append(
                    f"{name} stopped with {status}: {_tail(self.logs / f'{name}.log')}"
                )

    def _kill_one(self, zygote: Zygote, pending: int) -> None:
        up = [
            name
            for name in WORKERS
            if zygote.running(name) and time.monotonic() - zygote.started_at[name] > MIN_UPTIME
        ]
        if not up:
            return
        victim = self.rng.choice(up)
        if zygote.kill(victim):
            self.result.kills += 1
            self.result.kills_with_work += pending > 0
        self._start_worker(zygote, victim)

    # ------------------------------------------------------------------ partners
    def _amazon_pending(self) -> int:
        unsent = self._count(
            select(func.count())
            .select_from(outbox)
            .where(
                outbox.c.topic.in_(["amazon.inventory", "amazon.credit_note"]),
                outbox.c.status == "pending",
            )
        )
        open_ = self._count(
            select(func.count())
            .select_from(amazon_submissions)
            .where(amazon_submissions.c.status.in_(["prepared", "sent"]))
        )
        return (unsent or 0) + (open_ or 0)

    def _erp_pending(self) -> int:
        unsent = self._count(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.topic.in_(["erp.journal", "erp.stock"]), outbox.c.status == "pending")
        )
        undelivered = self._count(
            select(func.count()).select_from(erp_exports).where(erp_exports.c.status != "delivered")
        )
        return (unsent or 0) + (undelivered or 0)

    def partner_phase(self, zygote: Zygote, amazon: RunningSandbox, erp: RunningErpSandbox) -> None:
        options, result = self.options, self.result
        env = {
            **self.env,
            **sandbox_env(amazon),
            "RETURNBRIDGE_AMAZON_ITEMS_PER_CALL": "25",
            "RETURNBRIDGE_AMAZON_INVOICES_PER_CALL": "25",
            "RETURNBRIDGE_ERP_ENDPOINT_URL": erp.batches_url,
            "RETURNBRIDGE_ERP_RETRY_ATTEMPTS": "2",
        }
        cycle = ["cycle", "close", "--poll-seconds", "0.05", "--poll-rounds", "40"]
        for _ in range(options.cycle_kills):
            # Killed once Amazon took a request (the answer may be on its way), at a random
            # moment after: before recording it, while polling, or while settling.
            before = len(amazon.sandbox.transactions)
            zygote.spawn("cycle", cycle, env)
            deadline = time.monotonic() + 30
            while (
                zygote.running("cycle")
                and len(amazon.sandbox.transactions) == before
                and time.monotonic() < deadline
            ):
                time.sleep(0.005)
            time.sleep(self.rng.uniform(0.0, 0.3))
            result.cycle_kills += zygote.kill("cycle")
            result.cycles += 1
        for _ in range(12):
            status = zygote.run("cycle", cycle, env, timeout=120)
            result.cycles += 1
            if status != 0:
                result.unexpected_exits.append(
                    f"cycle close exited {status}: {_tail(self.logs / 'cycle.log')}"
                )
            if not self._amazon_pending():
                break
        erp.sandbox.fail_next.extend([503] * options.erp_faults)
        export = ["export", "erp", "--out", str(self.work / "erp")]
        for _ in range(options.export_kills):
            zygote.spawn("export", export, env)
            time.sleep(self.rng.uniform(0.05, 0.4))
            result.export_kills += zygote.kill("export")
            result.exports += 1
        for _ in range(12):
            status = zygote.run("export", export, env, timeout=120)
            result.exports += 1
            if status != 0:
                result.unexpected_exits.append(
                    f"export erp exited {status}: {_tail(self.logs / 'export.log')}"
                )
            if not self._erp_pending():
                break
        if self._amazon_pending():
            result.incomplete.append(f"{self._amazon_pending()} Amazon message(s) still pending")
        if self._erp_pending():
            result.incomplete.append(
                f"{self._erp_pending()} ERP message(s)/batch(es) still pending"
            )
        counters = amazon.sandbox.counters.values()
        result.amazon_faults = sum(
            c.errors_injected + c.storms_injected + c.drops_injected for c in counters
        )
        result.erp_faults = options.erp_faults - len(erp.sandbox.fail_next)

    # ------------------------------------------------------------------ the end
    def reconcile(self, zygote: Zygote) -> None:
        status = zygote.run("reconcile", ["reconcile", "--check"], self.env, timeout=120)
        self.result.reconcile_ok = status == 0
        self.result.reconcile_output = (self.logs / "reconcile.log").read_text(errors="replace")

    def close(self) -> None:
        self.rb.close()


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


@contextmanager
def _sandboxes(
    options: Options, opening: tuple[tuple[str, str, int], ...]
) -> Iterator[tuple[RunningSandbox, RunningErpSandbox]]:
    # No business rejections (reject_rate 0, nothing stuck): a rejection would make the runs
    # differ for good reason. Only transient faults, which must be retried until they pass.
    # The usage plans are not under test here: a faster sandbox keeps the run short.
    config = SandboxConfig(
        seed=options.seed,
        polls_until_final=1,
        reject_rate=0.0,
        rate_multiplier=5.0,
        opening_stock=opening,
    )
    amazon = start_sandbox(config.with_faults(options.amazon_faults))
    try:
        erp = start_erp_sandbox()
        try:
            yield amazon, erp
        finally:
            erp.stop()
    finally:
        amazon.stop()


def run_day(pg: PrivatePostgres, work: Path, options: Options) -> Result:
    """One harness run; the returned result carries the final state and every figure."""
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    run = Run(pg, work, options)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETURNBRIDGE_")}
    if options.sabotage:
        env["PYTHONPATH"] = _sabotage_path(work)
    phases = run.result.phases
    mark = time.monotonic()

    def phase(name: str) -> None:
        nonlocal mark
        phases[name] = round(time.monotonic() - mark, 1)
        mark = time.monotonic()

    zygote = Zygote(env, run.logs)
    try:
        chunks = run.prepare()
        phase("prepare")
        run.worker_phase(zygote, chunks)
        phase("workers")
        run.result.loop_failures = sum(
            _tail(log, 10_000).count("loop_failed") for log in run.logs.glob("worker-*.log")
        )
        with _sandboxes(options, run.opening) as (amazon, erp):
            run.partner_phase(zygote, amazon, erp)
            phase("partners")
            run.reconcile(zygote)
            zygote.close()
            phase("reconcile")
            run.result.state = snapshot(run.rb.engine, amazon.sandbox, erp.sandbox)
            phase("snapshot")
    finally:
        zygote.close()
        run.close()
        run.result.commands = zygote.timings
        zygote_log = (run.logs / "zygote.log").read_text(errors="replace")
        run.result.sabotage_installed = "crash-sabotage installed" in zygote_log
    run.result.seconds = time.monotonic() - started
    return run.result
