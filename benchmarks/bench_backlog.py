"""Draining a backlog of returns through the Amazon SP-API sandbox at Amazon's default limits.

A fresh interpreter writes N returns' worth of Amazon messages into a fresh SQLite database,
starts the SP-API sandbox (``returnbridge sandbox amazon``, a process of its own, as Amazon is
elsewhere) on loopback with the usage plans of Amazon's models (rate and burst as published,
``rate_multiplier`` 1), and runs clearing cycles as ``returnbridge cycle close``
runs them until no Amazon message in the outbox is left unsent.

The backlog is written in bulk (``executemany``), not through the pipeline (N returns are some
4.5 N events: far too slow for the budget), in the shape the pipeline writes it
(``services/pipeline.py`` ``_sync_stock`` and ``_sync_credit``): every return closed; each
line a credit movement and an ``amazon.credit_note`` message, a restocked line (grade A) a
stock movement and an ``amazon.inventory`` message before it; the case and line rows they hang
from and the catalog the ASINs come from. Lines per return, units per line, grades, warehouses,
RMAs and the catalog's size follow the ZigZag day generator. Journal entries and their ERP
messages are left out: the cycle reads none of them.

Figures:

- drain seconds, against the seconds Amazon's rate limits allow for ``min_calls``: per
  operation, the calls beyond its burst divided by its rate. Each operation has a bucket of its
  own, filling side by side with the others (a cycle polls while it still sends), so the
  slowest bucket sets the time; one after another they would need their sum, reported beside
  it. Rates and bursts are read from the running sandbox. Target: within 10 %.
- SP-API submission calls made (the cycles' own record: requests, retries, 429s) against
  ``min_calls``: equal.
- posting each return on its own: a sample of returns posted one by one through the same
  connector against the same sandbox, measured; the whole backlog extrapolated from the
  measured rate, beside the time the rate limits allow for it (computed).
- naive seconds / drain seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness import Result, peak_rss_mib, run_child

NAME = "backlog"
TARGET_RETURNS = 100_000  # the backlog
# At Amazon's limits a 100,000-return backlog needs 99 s of rate limit (1,000 submitInvoices
# and 1,000 getTransaction calls, 63 of each inventory operation, each operation its own
# bucket); written, prepared, drained and sampled, the run takes about 2.5 minutes. --backlog
# sets the size.
DEFAULT_RETURNS, QUICK_RETURNS = TARGET_RETURNS, 5_000
TARGET_OVERHEAD = 0.10  # drained within 10 % of what the rate limits allow
POLL_ROUNDS, POLL_SECONDS = 60, 1.0  # `returnbridge cycle close`'s defaults
MAX_CYCLES = 10
BATCH = 10_000  # rows per executemany
SUBMIT = {"inventory": "submitInventoryUpdate", "credit_notes": "submitInvoices"}
POLL = {"inventory": "getTransactionStatus", "credit_notes": "getTransaction"}
TOPICS = ("amazon.inventory", "amazon.credit_note")


def run(quick: bool, returns: int | None = None) -> list[Result]:
    returns = returns or (QUICK_RETURNS if quick else DEFAULT_RETURNS)
    sample = 50 if quick else 200
    child = run_child("bench_backlog", ["--returns", str(returns), "--sample", str(sample)])
    drain, allowed = child["drain_seconds"], child["allowed_parallel_seconds"]
    unsent = child["unsent_after"]
    within = drain <= (1 + TARGET_OVERHEAD) * allowed and not unsent
    calls, min_calls = child["calls"], child["min_calls"]
    sent, polled = child["send_calls"], child["polls_needed"]
    params = {
        "returns": returns,
        "messages": child["messages"],
        "database": "sqlite (file, WAL)",
        "sandbox": "loopback, a process of its own (returnbridge sandbox amazon), Amazon's"
        " default usage plans",
        "usage_plans": child["usage_plans"],
        "setup_seconds": round(child["setup_seconds"], 1),
    }
    drain_params = {
        **params,
        "cycles": child["cycles"],
        "prepare_seconds": round(child["prepare_seconds"], 2),
        "prepare_cpu_seconds": round(child["prepare_cpu_seconds"], 2),
        "send_seconds": round(child["send_seconds"], 1),
        "send_allowed_seconds": round(child["send_allowed_seconds"], 1),
        "confirm_seconds": round(child["confirm_seconds"], 1),
        "confirm_allowed_seconds": round(child["confirm_allowed_seconds"], 1),
        "allowed_by_operation": child["allowed_by_operation"],
        "allowed_parallel_seconds": round(child["allowed_parallel_seconds"], 1),
        "allowed_one_after_another_seconds": round(child["allowed_seconds"], 1),
        "status_polls": child["status_polls"],
        "polls_needed": polled,
        "drain_cpu_seconds": round(child["drain_cpu_seconds"], 1),
        "peak_rss_mib": round(child["peak_rss_mib"], 1),
    }
    size = (
        ""
        if returns >= TARGET_RETURNS
        else f"; the run is smaller than the target's {TARGET_RETURNS:,} returns"
    )
    if unsent:
        size += f"; {unsent} messages still unsent after {child['cycles']} cycles"
    naive = child["naive"]
    naive_seconds = returns / naive["steady_returns_per_second"]
    naive_allowed = child["naive_allowed_seconds"]
    return [
        Result(
            NAME,
            "drain time",
            round(drain, 1),
            "s",
            round(allowed, 1),
            "s (rate limits allow for min_calls, the operations side by side)",
            f"<= {1 + TARGET_OVERHEAD:.1f} x allowed, {TARGET_RETURNS:,} returns",
            within and returns >= TARGET_RETURNS,
            drain_params,
            notes=f"{drain / allowed - 1:+.1%} over the rate limits' time "
            f"({'within' if within else 'not within'} 10 %){size}. Allowed: per operation, "
            "calls beyond the burst / rate; the four buckets fill side by side, so the slowest "
            f"sets the time ({child['allowed_seconds']:.0f} s if the operations took turns). "
            f"Spent: prepare {child['prepare_seconds']:.1f} s ("
            f"{child['prepare_cpu_seconds']:.1f} s of CPU); {sent} sends in "
            f"{child['send_seconds']:.1f} s (allowed {child['send_allowed_seconds']:.1f} s); "
            f"{polled} polls in {child['confirm_seconds']:.1f} s (allowed "
            f"{child['confirm_allowed_seconds']:.1f} s); the drain's process used "
            f"{child['drain_cpu_seconds']:.0f} s of CPU",
        ),
        Result(
            NAME,
            "SP-API calls",
            calls,
            "calls",
            min_calls,
            "calls (min_calls)",
            "= min_calls",
            calls == min_calls,
            {
                **params,
                "retries": child["retries"],
                "throttled": child["throttled"],
                "sandbox_requests": child["sandbox_requests"],
                "sandbox_throttled": child["sandbox_throttled"],
            },
            notes=f"submission requests, retries included, as the cycles recorded them; "
            f"{child['retries']} retries, {child['throttled']} answers 429 (the sandbox "
            f"counted {sum(child['sandbox_throttled'].values())})",
        ),
        Result(
            NAME,
            "naive: each return posted alone",
            round(naive_seconds),
            "s (extrapolated)",
            round(naive_allowed),
            "s (rate limits, computed)",
            None,
            None,
            {
                **params,
                "sample_returns": naive["returns"],
                "sample_calls": naive["calls"],
                "sample_seconds": round(naive["seconds"], 2),
                "sample_throttled": naive["throttled"],
                "calls_per_second": round(naive["calls_per_second"], 2),
                "returns_per_second": round(naive["returns_per_second"], 2),
                "steady_returns_per_second": round(naive["steady_returns_per_second"], 2),
            },
            notes=f"measured: {naive['returns']} returns posted one by one through the same "
            f"connector and sandbox ({naive['calls']} calls: each return's credit note alone, "
            f"its restocked units alone) in {naive['seconds']:.1f} s, "
            f"{naive['returns_per_second']:.2f} returns/s, {naive['calls_per_second']:.2f} "
            f"calls/s; {naive['steady_returns_per_second']:.2f} returns/s once the first bursts "
            f"were spent. Computed: {returns:,} returns at that steady rate; beside it, the rate "
            "limits' time for one submitInvoices call per return (the two operations' buckets "
            "fill side by side). Polls not counted: both are lower bounds",
        ),
        Result(
            NAME,
            "naive / drain time",
            round(naive_seconds / drain, 1),
            "x",
            round(naive_allowed / allowed, 1) if allowed else None,
            "x (rate limits, computed)",
            None,
            None,
            params,
            notes="the naive time extrapolated from the measured sample, over the measured "
            "drain; beside it the same ratio from the rate limits alone",
        ),
    ]


# ------------------------------------------------------------------------------ the backlog
@dataclass
class Backlog:
    """What was written: row counts, and the first returns kept for the naive sample."""

    rows: Counter[str] = field(default_factory=Counter)
    returns_restocked: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)


def write_backlog(engine: Any, returns: int, sample: int, now: datetime, seed: int = 7) -> Backlog:
    """``returns`` closed returns and their pending Amazon messages, written in bulk."""
    from sqlalchemy import insert

    from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS, read_mappings
    from returnbridge.masterdata.warehouses_toml import parse_warehouses
    from returnbridge.sandboxes.zigzag.generator import (
        DAY_START,
        DISPOSITION_OF_GRADE,
        GRADES,
        WAREHOUSES,
        make_catalog,
    )
    from returnbridge.store.stock import SqlStockStore
    from returnbridge.store.tables import (
        catalog_items,
        credit_movements,
        outbox,
        return_cases,
        return_lines,
        stock_movements,
    )

    rng = random.Random(seed)
    mappings = read_mappings(DEFAULT_MAPPINGS)
    products = make_catalog(rng, max(40, returns // 8))  # the generator's catalog size
    sellable = [p for p in products if p.active and not p.non_inventory]
    units_column = {
        "restock": "units_restocked",
        "refurbish": "units_refurbished",
        "liquidate": "units_liquidated",
        "write_off": "units_written_off",
        "return_to_vendor": "units_returned_to_vendor",
    }
    zero_units = dict.fromkeys(units_column.values(), 0)
    grades, weights = [g for g, _ in GRADES], [w for _, w in GRADES]
    backlog = Backlog()
    tables: dict[str, list[dict[str, Any]]] = {
        "return_cases": [],
        "return_lines": [],
        "stock_movements": [],
        "credit_movements": [],
        "outbox": [],
    }
    targets = {
        "return_cases": return_cases,
        "return_lines": return_lines,
        "stock_movements": stock_movements,
        "credit_movements": credit_movements,
        "outbox": outbox,
    }
    line_ref = 0
    positions: set[tuple[str, str]] = set()  # (DC, SKU) restocked

    def message(topic: str, key: str, payload: dict[str, Any]) -> None:
        tables["outbox"].append(
            {
                "id": len(tables["outbox"]) + backlog.rows["outbox"] + 1,
                "topic": topic,
                "message_key": key,
                "payload": json.dumps(payload, sort_keys=True),
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
        )

    with engine.begin() as conn:
        conn.execute(
            insert(catalog_items),
            [
                {
                    "sku": p.sku,
                    "asin": p.asin,
                    "ean": p.ean,
                    "aliases": json.dumps(list(p.aliases)),
                    "active": p.active,
                    "non_inventory": p.non_inventory,
                    "unit_cost": p.unit_cost,
                    "currency": "GBP",
                    "description": f"Demo product {p.sku}",
                }
                for p in products
            ],
        )
        backlog.rows["catalog_items"] = len(products)
        for case_id in range(1, returns + 1):
            return_id = f"ZZR-{seed}-{case_id:06d}"
            warehouse = rng.choice(WAREHOUSES)
            rma = f"RMA{rng.randint(10**8, 10**9 - 1)}" if rng.random() < 0.3 else None
            returned_at = DAY_START + timedelta(minutes=rng.randint(0, 30 * 60))
            tables["return_cases"].append(
                {
                    "id": case_id,
                    "case_key": f"zz:{return_id}",
                    "return_id": return_id,
                    "order_ref": f"{rng.randint(200, 299)}-{rng.randint(10**6, 10**7 - 1)}-"
                    f"{rng.randint(10**6, 10**7 - 1)}",
                    "retailer_code": "CASTORE",
                    "order_number": f"CAS{seed:02d}{case_id:07d}",
                    "warehouse": warehouse,
                    "rma_id": rma,
                    "status": "closed",
                    "provisional": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            refs = {"return_id": return_id, "case": case_id}
            credit_refs = {**refs, "returns_reference": rma or return_id, "rma_id": rma}
            kept: list[tuple[str, str, int, int, bool]] = []
            for line_no in range(1, rng.choices([1, 2, 3], [70, 22, 8])[0] + 1):
                line_ref += 1
                product = rng.choice(sellable)
                units = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
                grade = rng.choices(grades, weights=weights)[0]
                route = mappings.grade_routes[grade].value
                reason = str(rng.randint(1, 8))
                line_id = str(line_no)
                key = f"{case_id}/{line_id}/1"
                tables["return_lines"].append(
                    {
                        "id": line_ref,
                        "case_id": case_id,
                        "line_id": line_id,
                        "kind": "product",
                        "status": "closed",
                        "sku_scanned": product.sku,
                        "sku": product.sku,
                        "warehouse": warehouse,
                        "reason": reason,
                        "amazon_reason": mappings.reasons[reason],
                        "grade": grade,
                        "disposition": DISPOSITION_OF_GRADE[grade],
                        "route": route,
                        "expected_qty": units,
                        "units_received": units,
                        **zero_units,
                        units_column[route]: units,
                        "units_in_exception": 0,
                        "units_pending": 0,
                        "facts_digest": hashlib.md5(key.encode()).hexdigest(),
                        "updated_at": now,
                    }
                )
                restocked = route == "restock"
                if restocked:
                    tables["stock_movements"].append(
                        {
                            "movement_key": key,
                            "line_ref": line_ref,
                            "warehouse": warehouse,
                            "sku": product.sku,
                            "quantity": units,
                            "inbox_id": None,
                            "created_at": now,
                            "occurred_at": now,
                        }
                    )
                    positions.add((warehouse, product.sku))
                    message(
                        "amazon.inventory",
                        f"stock/{key}",
                        {
                            "movement_key": key,
                            "warehouse": warehouse,
                            "sku": product.sku,
                            "delta": units,
                            "line_id": line_id,
                            **refs,
                        },
                    )
                tables["credit_movements"].append(
                    {
                        "movement_key": key,
                        "line_ref": line_ref,
                        "sku": product.sku,
                        "quantity": units,
                        "unit_amount": product.unit_cost,
                        "currency": "GBP",
                        "inbox_id": None,
                        "created_at": now,
                    }
                )
                message(
                    "amazon.credit_note",
                    f"credit/{key}",
                    {
                        "movement_key": key,
                        "sku": product.sku,
                        "asin": product.asin,
                        "quantity": units,
                        "unit_amount": product.unit_cost,
                        "currency": "GBP",
                        "returned_at": returned_at.isoformat(),
                        "line_id": line_id,
                        **credit_refs,
                    },
                )
                kept.append((product.sku, product.asin, units, product.unit_cost, restocked))
            backlog.returns_restocked += any(line[4] for line in kept)
            if case_id <= sample:
                backlog.sample.append(
                    {
                        "case": case_id,
                        "warehouse": warehouse,
                        "reference": rma or return_id,
                        "rma": rma,
                        "returned_at": returned_at,
                        "lines": kept,
                    }
                )
            if len(tables["outbox"]) >= BATCH or case_id == returns:
                for name, rows in tables.items():  # parents first: the foreign keys hold
                    if rows:
                        conn.execute(insert(targets[name]), rows)
                        backlog.rows[name] += len(rows)
                        rows.clear()
        # Each DC restocks its own Amazon warehouse, whose WMS snapshot (an hour old, before
        # the backlog's restocks) held none of the restocked products: the cycle sends those.
        stock = SqlStockStore(conn)
        stock.save_warehouse_map(parse_warehouses(_warehouses_file(WAREHOUSES)), "bench", now)
        snapshot = [(f"AMZ-{dc}", sku, 0, now - timedelta(hours=1)) for dc, sku in positions]
        stock.import_snapshot(sorted(snapshot), "bench", now)
        backlog.rows["stock_snapshots"] = len(snapshot)
    return backlog


def _warehouses_file(dcs: tuple[str, ...]) -> str:
    return "".join(
        f'[dcs.{dc}]\namazon_warehouse = "AMZ-{dc}"\n[warehouses.AMZ-{dc}]\n'
        'stock_authority = "snapshot"\n'
        for dc in dcs
    )


# ------------------------------------------------------------------------------ the child
def _unsent(engine: Any) -> int:
    from sqlalchemy import func, select

    from returnbridge.store.tables import outbox

    with engine.connect() as conn:
        found = conn.execute(
            select(func.count()).where(outbox.c.topic.in_(TOPICS), outbox.c.status == "pending")
        ).scalar()
    return int(found or 0)


def _allowed(calls: dict[str, int], plans: dict[str, tuple[float, int]]) -> dict[str, float]:
    """Seconds each operation's bucket needs for ``calls`` requests, from full."""
    return {op: max(0, n - plans[op][1]) / plans[op][0] for op, n in calls.items()}


def child(returns: int, sample: int) -> None:
    from sqlalchemy import func, select

    from returnbridge.bootstrap import bootstrap
    from returnbridge.config import Settings
    from returnbridge.sandboxes.amazon.config import SandboxConfig
    from returnbridge.sandboxes.amazon.state import AmazonSandbox
    from returnbridge.services.cycles import CycleReport
    from returnbridge.store.cycles import cycle_transaction
    from returnbridge.store.migrate import upgrade
    from returnbridge.store.tables import amazon_submissions, clearing_cycles

    # Amazon's published usage plans (rate_multiplier 1). Processing is not what is measured:
    # each transaction's outcome shows at its first status read, so one poll settles it.
    config = SandboxConfig(seed=7, polls_until_final=0)
    assert config.rate_multiplier == 1.0, "the benchmark runs at Amazon's default rate limits"
    # The sandbox serves from a process of its own, as Amazon does from elsewhere: in the
    # drain's process its request checks would take the interpreter lock from the cycle.
    with (
        tempfile.TemporaryDirectory(prefix="rb-bench-backlog-") as tmp,
        _sandbox_process(config, Path(tmp) / "sandbox.log") as url,
    ):
        env = {k.removeprefix("RETURNBRIDGE_").lower(): v for k, v in _vendor_env(url).items()}
        rb = bootstrap(Settings(database_url=f"sqlite:///{Path(tmp) / 'bench.db'}", **env))
        started = time.perf_counter()
        upgrade(rb.engine)
        backlog = write_backlog(rb.engine, returns, sample, rb.clock())
        setup_seconds = time.perf_counter() - started
        # the plans of a sandbox with the running one's configuration (checked), read from it
        sandbox = AmazonSandbox(config)
        assert _sandbox_state(url)["config"] == config.public_dict()
        plans = {op: sandbox.usage_plan(op) for op in sandbox.catalog}
        vendor = rb.amazon_vendor()
        reports: list[CycleReport] = []
        prepared: list[tuple[float, float]] = []
        started, cpu = time.perf_counter(), time.process_time()
        while _unsent(rb.engine) and len(reports) < MAX_CYCLES:
            cycle = rb.clearing_cycle(vendor)
            _time_prepare(cycle, prepared)
            reports.append(cycle.close(POLL_ROUNDS, time.sleep, POLL_SECONDS))
        drain_seconds = time.perf_counter() - started
        drain_cpu = time.process_time() - cpu
        unsent = _unsent(rb.engine)
        status_polls = vendor.stats.status_polls
        with cycle_transaction(rb.engine) as store:
            cycles = clearing_cycles.c
            history = store.conn.execute(
                select(
                    func.sum(cycles.amazon_requests),
                    func.sum(cycles.amazon_retries),
                    func.sum(cycles.amazon_throttled),
                )
            ).one()
            by_operation = dict(
                store.conn.execute(
                    select(amazon_submissions.c.operation, func.count()).group_by(
                        amazon_submissions.c.operation
                    )
                ).all()
            )
            sub = amazon_submissions.c
            spans = store.conn.execute(
                select(
                    func.min(sub.sent_at),
                    func.max(sub.sent_at),
                    func.min(sub.final_at),
                    func.max(sub.final_at),
                )
            ).one()
        counters = _sandbox_state(url)["counters"]
        burst = max(plans[op][1] for op in SUBMIT.values())
        naive = post_each_alone(rb.engine, vendor, backlog.sample, rb.clock(), burst)
        vendor.close()
        rb.close()
    submitted = {SUBMIT[op]: n for op, n in by_operation.items()}
    polled = {POLL[op]: n for op, n in by_operation.items()}  # one read per transaction
    allowed = _allowed({**submitted, **polled}, plans)
    send_span = (spans[1] - spans[0]).total_seconds()
    confirm_span = (spans[3] - spans[2]).total_seconds()
    naive_calls = {"submitInvoices": returns, "submitInventoryUpdate": backlog.returns_restocked}
    print(
        json.dumps(
            {
                "messages": backlog.rows["outbox"],
                "rows": dict(backlog.rows),
                "setup_seconds": setup_seconds,
                "drain_seconds": drain_seconds,
                "prepare_seconds": sum(wall for wall, _ in prepared),
                "prepare_cpu_seconds": sum(cpu for _, cpu in prepared),
                "cycles": len(reports),
                "unsent_after": unsent,
                "min_calls": sum(r.min_calls for r in reports),
                "calls": int(history[0] or 0),
                "retries": int(history[1] or 0),
                "throttled": int(history[2] or 0),
                "status_polls": status_polls,
                "polls_needed": sum(polled.values()),
                "usage_plans": {op: list(plan) for op, plan in plans.items()},
                "allowed_by_operation": {op: round(s, 2) for op, s in allowed.items()},
                "allowed_seconds": sum(allowed.values()),
                "drain_cpu_seconds": drain_cpu,
                "send_calls": sum(submitted.values()),
                "send_seconds": send_span,
                "send_allowed_seconds": sum(allowed[op] for op in submitted),
                "confirm_seconds": confirm_span,
                "confirm_allowed_seconds": sum(allowed[op] for op in polled),
                "peak_rss_mib": peak_rss_mib(),
                "allowed_parallel_seconds": max(allowed.values(), default=0.0),
                "sandbox_requests": {op: c["requests"] for op, c in counters.items()},
                "sandbox_throttled": {op: c["throttled"] for op, c in counters.items()},
                "naive": naive,
                "naive_allowed_seconds": max(_allowed(naive_calls, plans).values()),
            }
        )
    )


@contextmanager
def _sandbox_process(config: Any, log: Path) -> Iterator[str]:
    """``returnbridge sandbox amazon`` with ``config``'s seed and processing, in a child
    process on a free loopback port (its output to ``log``), until the block ends; yields its
    URL."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "returnbridge",
        "sandbox",
        "amazon",
        "--port",
        str(port),
        "--seed",
        str(config.seed),
        "--polls-until-final",
        str(config.polls_until_final),
    ]
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/_sandbox/state", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the sandbox did not start: {log.read_text()}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _sandbox_state(url: str) -> dict[str, Any]:
    import httpx

    state: dict[str, Any] = httpx.get(f"{url}/_sandbox/state", timeout=30).json()
    return state


def _vendor_env(url: str) -> dict[str, str]:
    """The RETURNBRIDGE_AMAZON_* settings that point returnbridge at the sandbox at ``url``."""
    from returnbridge.sandboxes.amazon.config import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_REFRESH_TOKEN,
    )

    return {
        "RETURNBRIDGE_AMAZON_ENDPOINT": url,
        "RETURNBRIDGE_AMAZON_LWA_URL": f"{url}/auth/o2/token",
        "RETURNBRIDGE_AMAZON_CLIENT_ID": DEFAULT_CLIENT_ID,
        "RETURNBRIDGE_AMAZON_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "RETURNBRIDGE_AMAZON_REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN,
        "RETURNBRIDGE_AMAZON_SELLING_PARTY": "CASTORE",
    }


def _time_prepare(cycle: Any, spent: list[tuple[float, float]]) -> None:
    """Time the cycle's prepare step (read, net, write the submissions), the part of a drain
    that no rate limit paces: (wall, CPU) seconds."""
    prepare = cycle.prepare

    def timed(report: Any) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        prepare(report)
        spent.append((time.perf_counter() - started, time.process_time() - cpu))

    cycle.prepare = timed


def post_each_alone(
    engine: Any, vendor: Any, returns: list[dict[str, Any]], now: datetime, burst: int
) -> dict[str, Any]:
    """The naive plan, measured: each return's credit note in a call of its own, and its
    restocked units (the sample's own, under the DC's Amazon warehouse) in another. The steady
    rate is measured after the first ``burst`` returns, which the full buckets let through at
    once: it is the rate a whole backlog would go at."""
    from returnbridge.services.ports import CreditNote, CreditNoteLine, InventoryPosition

    positions: Counter[tuple[str, str]] = Counter()  # the sample's own restocked units
    for r in returns:
        for sku, _, units, _, restock in r["lines"]:
            if restock:
                positions[(r["warehouse"], sku)] += units
    stats = vendor.stats
    calls, throttled, polls = stats.calls, stats.throttled, stats.status_polls
    started = time.perf_counter()
    done: list[float] = []
    for r in returns:
        lines = r["lines"]
        note = CreditNote(
            number=f"NAIVE-{r['case']}",
            issued_at=now,
            currency="GBP",
            returns_reference=r["reference"],
            goods_returned_at=r["returned_at"],
            lines=tuple(
                CreditNoteLine(sku, asin, units, amount) for sku, asin, units, amount, _ in lines
            ),
            rma_id=r["rma"],
        )
        vendor.submit_credit_notes([note])
        restocked = sorted({(sku, asin) for sku, asin, _, _, restock in lines if restock})
        if restocked:
            vendor.submit_inventory(
                f"AMZ-{r['warehouse']}",
                [
                    InventoryPosition(sku, asin, positions[(r["warehouse"], sku)])
                    for sku, asin in restocked
                ],
            )
        done.append(time.perf_counter())
    seconds = time.perf_counter() - started
    steady = (len(done) - burst) / (done[-1] - done[burst - 1]) if len(done) > burst else 0.0
    made = stats.calls - calls
    return {
        "returns": len(returns),
        "calls": made,
        "seconds": seconds,
        "throttled": stats.throttled - throttled,
        "status_polls": stats.status_polls - polls,
        "calls_per_second": made / seconds,
        "returns_per_second": len(returns) / seconds,
        "steady_returns_per_second": steady,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--returns", type=int, default=5_000)
    parser.add_argument("--sample", type=int, default=50)
    args = parser.parse_args()
    if not args.child:
        sys.exit("run through benchmarks/run.py")
    child(args.returns, args.sample)
