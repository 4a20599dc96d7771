"""Pipeline throughput on SQLite: events/s from inbox to outbox, and peak memory.

A fresh interpreter stores N generated ZigZag events in the inbox (the baseline: events/s of
storing them), then drains the inbox (the figure: events/s processed), and reports its own peak
resident memory. Targets: 10,000 events/s, and 1,000,000 events in one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from harness import Result, peak_rss_mib, run_child

NAME = "pipeline"
TARGET_RATE = 10_000
TARGET_EVENTS = 1_000_000
INGEST_BATCH = 1_000  # the import batch size's default


def run(quick: bool, events: int | None = None) -> list[Result]:
    events = events or (1_000 if quick else 5_000)
    child = run_child("bench_pipeline", ["--events", str(events)])
    params = {
        "events": events,
        "processed": child["processed"],
        "accepted": child["accepted"],
        "database": "sqlite (file, WAL)",
        "ingest_batch": INGEST_BATCH,
        "batch_size": child["batch_size"],
    }
    rate, ingest_rate = child["drain_rate"], child["ingest_rate"]
    return [
        Result(
            NAME,
            "inbox to outbox",
            round(rate, 1),
            "events/s",
            round(ingest_rate, 1),
            "events/s (ingest alone)",
            f">= {TARGET_RATE:,} events/s",
            rate >= TARGET_RATE,
            {**params, "drain_seconds": round(child["drain_seconds"], 2)},
        ),
        Result(
            NAME,
            "peak memory, ingest + drain",
            round(child["peak_rss_mib"], 1),
            "MiB",
            round(child["peak_rss_after_ingest_mib"], 1),
            "MiB (peak after ingest)",
            f"{TARGET_EVENTS:,} events in one run",
            events >= TARGET_EVENTS,
            params,
            notes="the run is smaller than the target's 1,000,000 events"
            if events < TARGET_EVENTS
            else "",
        ),
    ]


def child(events: int) -> None:
    from events import day_for, load_master_data, records

    from returnbridge.bootstrap import bootstrap
    from returnbridge.config import Settings
    from returnbridge.services.pipeline import ingest
    from returnbridge.store.migrate import upgrade

    day, feed = day_for(events)
    batch = records(feed)
    with tempfile.TemporaryDirectory(prefix="rb-bench-pipeline-") as tmp:
        folder = Path(tmp)
        rb = bootstrap(Settings(database_url=f"sqlite:///{folder / 'bench.db'}"))
        upgrade(rb.engine)
        load_master_data(rb, day, folder)
        accepted = 0
        started = time.perf_counter()
        for i in range(0, len(batch), INGEST_BATCH):
            with rb.stores() as store:
                accepted += ingest(store, batch[i : i + INGEST_BATCH], rb.clock()).accepted
        ingest_seconds = time.perf_counter() - started
        after_ingest = peak_rss_mib()
        started = time.perf_counter()
        stats = rb.processor.drain()
        drain_seconds = time.perf_counter() - started
        rb.close()
    print(
        json.dumps(
            {
                "accepted": accepted,
                "processed": stats.total,
                "ingest_rate": len(batch) / ingest_seconds,
                "drain_rate": stats.total / drain_seconds,
                "drain_seconds": drain_seconds,
                "batch_size": rb.settings.batch_size,
                "peak_rss_after_ingest_mib": after_ingest,
                "peak_rss_mib": peak_rss_mib(),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--events", type=int, default=1_000)
    args = parser.parse_args()
    if not args.child:
        sys.exit("run through benchmarks/run.py")
    child(args.events)
