"""Webhook ingest: signed ZigZag deliveries over HTTP into the inbox, against the same events
stored directly (no HTTP), one event per transaction, as the endpoint stored them before group
commit.

``returnbridge serve`` runs as a child process on a free loopback port over a fresh SQLite file
(WAL), ingest only (``--no-worker --no-cycles --no-erp --no-alerts``; everything else as
shipped, the access log off; its output goes to a file). ``returnbridge loadgen`` runs as another
process: it posts each distinct event of a seeded ZigZag day once, signed, over several
keep-alive connections, and reports accepted/s and latency percentiles; afterwards it looks every
accepted event up in the inbox, which must hold each exactly once and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from events import day_for, records, unique_readable
from harness import Result, percentile

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.services.pipeline import ingest
from returnbridge.store.migrate import upgrade
from returnbridge.testing.serve_process import serve_process

NAME = "webhooks"
SECRET = "whsec_cmV0dXJuYnJpZGdlLWJlbmNoLXNlY3JldC0zMmJ5dGU="
SERVE_FLAGS = ("--no-worker", "--no-cycles", "--no-erp", "--no-alerts")
CONNECTIONS = 32
TARGET_RATE = 2_000.0  # accepted/s
TARGET_P99_MS = 50.0
BASELINE_EVENTS = 2_000


def _app(folder: Path, name: str) -> App:
    rb = bootstrap(Settings(database_url=f"sqlite:///{folder / name}"))
    upgrade(rb.engine)
    return rb


def _direct(folder: Path, events: int) -> tuple[float, list[float]]:
    """The baseline: events stored directly, one transaction each; events/s and latencies."""
    _, feed = day_for(events * 2, seed=11)
    batch = records(unique_readable(feed)[:events])
    rb = _app(folder, "direct.db")
    latencies = []
    started = time.perf_counter()
    for record in batch:
        one = time.perf_counter()
        with rb.stores() as store:
            ingest(store, [record], rb.clock())
        latencies.append(time.perf_counter() - one)
    seconds = time.perf_counter() - started
    rb.close()
    return len(batch) / seconds, latencies


def _load(url: str, db: str, events: int, seconds: float) -> dict[str, Any]:
    """``returnbridge loadgen`` in a process of its own; its JSON report."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "returnbridge",
            "loadgen",
            "--url",
            url,
            "--db",
            db,
            "--count",
            str(events),
            "--connections",
            str(CONNECTIONS),
            "--seconds",
            str(seconds),
            "--unique",
            "--json",
        ],
        env={**os.environ, "RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    if not done.stdout.strip():
        raise RuntimeError(f"loadgen failed ({done.returncode}):\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _conditions(params: dict[str, Any]) -> str:
    return (
        f"Load average {params['load_average'][0]} on {os.cpu_count()} cores while it ran (other "
        f"work shares the machine); the service spent {params['service_cpu_us_per_request']} "
        "us of CPU per request."
    )


def run(quick: bool, events: int | None = None) -> list[Result]:
    events = events or (3_000 if quick else 20_000)
    with tempfile.TemporaryDirectory(prefix="rb-bench-webhooks-") as tmp:
        folder = Path(tmp)
        direct_rate, direct_latencies = _direct(folder, 500 if quick else BASELINE_EVENTS)
        rb = _app(folder, "http.db")
        db = rb.engine.url.render_as_string(hide_password=False)
        rb.close()
        env = {"RETURNBRIDGE_ZIGZAG_WEBHOOK_SECRET": SECRET}
        with serve_process(db, folder / "serve.log", env=env, args=SERVE_FLAGS) as served:
            cpu_before = served.cpu_seconds()
            report = _load(served.url, db, events, seconds=60.0)
            cpu_after = served.cpu_seconds()
    check = report["check"]
    exactly_once = (
        check["ok"]
        and report["outcomes"] == {"202": events}
        and check["stored_once"] == check["inbox_rows"] == events
    )
    rate = report["accepted_per_second"]
    latency = report["latency_ms"]
    # CPU the service spent per delivery: steadier than the rate on a machine that is busy with
    # other work, which slows the rate but hardly changes what each request costs.
    cpu_us = (
        round((cpu_after - cpu_before) / max(1, report["attempts"]) * 1e6)
        if cpu_before is not None and cpu_after is not None
        else None
    )
    params = {
        "events": events,
        "connections": CONNECTIONS,
        "statuses": report["statuses"],
        "retries": report["retries"],
        "latency_p95_ms": latency["p95"],
        "service_cpu_us_per_request": cpu_us,
        "inbox_rows": check["inbox_rows"],
        "database": "sqlite (file, WAL)",
        "service": f"returnbridge serve {' '.join(SERVE_FLAGS)} (child process, defaults)",
        "load": "returnbridge loadgen --unique (child process, loopback, keep-alive)",
        "baseline": "pipeline.ingest, one event per transaction, no HTTP (the endpoint's "
        "storage before group commit)",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    return [
        Result(
            NAME,
            "webhooks accepted",
            round(rate, 1),
            "accepted/s",
            round(direct_rate, 1),
            "events/s (direct ingest)",
            f">= {TARGET_RATE:,.0f} accepted/s, every event in the inbox exactly once",
            rate >= TARGET_RATE and exactly_once,
            params,
            " ".join(
                note
                for note in (
                    "" if exactly_once else f"Exactly-once check failed: {check}.",
                    _conditions(params) if rate < TARGET_RATE else "",
                )
                if note
            ),
        ),
        Result(
            NAME,
            "webhook latency p50",
            latency["p50"],
            "ms",
            round(percentile(direct_latencies, 50) * 1000, 2),
            "ms (direct ingest p50)",
            None,
            None,
            params,
        ),
        Result(
            NAME,
            "webhook latency p99",
            latency["p99"],
            "ms",
            round(percentile(direct_latencies, 99) * 1000, 2),
            "ms (direct ingest p99)",
            f"< {TARGET_P99_MS:.0f} ms",
            latency["p99"] < TARGET_P99_MS,
            params,
            _conditions(params) if latency["p99"] >= TARGET_P99_MS else "",
        ),
    ]
