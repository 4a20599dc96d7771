"""Webhook ingest: signed ZigZag deliveries over HTTP into the inbox, against the same events
stored directly (no HTTP), one event per transaction as the endpoint stores them.

The service runs in a thread of this process on a fresh SQLite file; a few client threads post
the events, each signed with the ``standardwebhooks`` library (never the service's verifier).
Afterwards every accepted event must be in the inbox exactly once.
"""

from __future__ import annotations

import base64
import json
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from events import day_for, records, unique_readable
from harness import Result, percentile
from pydantic import SecretStr
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.entrypoints.http import WEBHOOK_PATH, start_service
from returnbridge.services.pipeline import ingest
from returnbridge.store.migrate import upgrade
from returnbridge.store.tables import inbox

NAME = "webhooks"
SECRET = "whsec_" + base64.b64encode(b"returnbridge-bench-secret-32byte").decode()


def _app(folder: Path, name: str) -> App:
    settings = Settings(
        database_url=f"sqlite:///{folder / name}", zigzag_webhook_secret=SecretStr(SECRET)
    )
    rb = bootstrap(settings)
    upgrade(rb.engine)
    return rb


def _post_all(
    url: str, bodies: list[tuple[str, bytes]], threads: int
) -> tuple[list[float], dict[int, int], list[str], float]:
    """POST every body from ``threads`` clients; latencies (s), statuses, accepted ids, seconds."""
    signer = Webhook(SECRET)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted: list[str] = []
    lock = threading.Lock()

    def worker(share: list[tuple[str, bytes]]) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for event_id, body in share:
                msg_id = f"msg_{event_id}"
                at = datetime.now(UTC)
                headers = {
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(at.timestamp())),
                    "webhook-signature": signer.sign(msg_id, at, body.decode("utf-8")),
                    "content-type": "application/json",
                }
                started = time.perf_counter()
                answer = client.post(WEBHOOK_PATH, content=body, headers=headers)
                took = time.perf_counter() - started
                with lock:
                    latencies.append(took)
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                    if answer.status_code == 202:
                        accepted.append(event_id)

    shares = [bodies[i::threads] for i in range(threads)]
    pool = [threading.Thread(target=worker, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies, statuses, accepted, time.perf_counter() - started


def _inbox_counts(rb: App) -> dict[str, int]:
    query = select(inbox.c.event_id, func.count()).group_by(inbox.c.event_id)
    with rb.engine.connect() as conn:
        return {event_id: n for event_id, n in conn.execute(query)}


def run(quick: bool, events: int | None = None, threads: int = 4) -> list[Result]:
    events = events or (300 if quick else 2_000)
    _, feed = day_for(events * 2)
    chosen: list[dict[str, Any]] = unique_readable(feed)[:events]
    bodies = [(e["id"], json.dumps(e).encode("utf-8")) for e in chosen]
    with tempfile.TemporaryDirectory(prefix="rb-bench-webhooks-") as tmp:
        folder = Path(tmp)
        # Baseline: the same events into the inbox directly, one transaction each.
        direct = _app(folder, "direct.db")
        batch = records(chosen)
        direct_latencies = []
        started = time.perf_counter()
        for record in batch:
            one = time.perf_counter()
            with direct.stores() as store:
                ingest(store, [record], direct.clock())
            direct_latencies.append(time.perf_counter() - one)
        direct_seconds = time.perf_counter() - started
        direct.close()

        rb = _app(folder, "http.db")
        with start_service(rb) as service:
            latencies, statuses, accepted, seconds = _post_all(service.url, bodies, threads)
        counts = _inbox_counts(rb)
        rb.close()
    once = all(counts.get(event_id) == 1 for event_id in accepted)
    exactly_once = once and len(accepted) == len(bodies) and sum(counts.values()) == len(accepted)
    params = {
        "events": len(bodies),
        "client_threads": threads,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "inbox_rows": sum(counts.values()),
        "database": "sqlite (file, WAL)",
        "baseline": "pipeline.ingest, one event per transaction, no HTTP",
    }
    check = "every event accepted, in the inbox exactly once"
    return [
        Result(
            NAME,
            "webhooks accepted",
            round(len(accepted) / seconds, 1),
            "accepted/s",
            round(len(batch) / direct_seconds, 1),
            "events/s (direct ingest)",
            check,
            exactly_once,
            params,
        ),
        Result(
            NAME,
            "webhook latency p50",
            round(percentile(latencies, 50) * 1000, 2),
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
            round(percentile(latencies, 99) * 1000, 2),
            "ms",
            round(percentile(direct_latencies, 99) * 1000, 2),
            "ms (direct ingest p99)",
            None,
            None,
            params,
        ),
    ]
