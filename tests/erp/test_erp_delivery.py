"""Delivery to the ERP (the stand-in, over real HTTP): retried on 5xx under the same
idempotency key until taken once, refused on 4xx without a retry, and the CLI end to end."""

from __future__ import annotations

import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from erp_support import (
    a_day,
    db_journals,
    db_movements,
    file_totals,
    journal_rows,
    read_csv,
    regrade,
    stock_rows,
)
from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.connectors.erp import ErpFileWriter, ErpHttpConfig, HttpErpEndpoint, RetryPolicy
from returnbridge.sandboxes.erp import ErpSandbox, RunningErpSandbox
from returnbridge.services.erp_export import ErpExporter
from returnbridge.store.erp_export import SqlErpExportStore, erp_transaction
from returnbridge.store.tables import erp_exports

FAST = RetryPolicy(attempts=4, base_seconds=0.01, cap_seconds=0.05)


_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def delivering(rb: App, out: Path, url: str, token: str = "") -> ErpExporter:
    def stores() -> AbstractContextManager[SqlErpExportStore]:
        return erp_transaction(rb.engine)

    client = httpx.Client(timeout=5)
    _CLIENTS.append(client)
    endpoint = HttpErpEndpoint(ErpHttpConfig(url, token, FAST), client, rng=random.Random(1))
    return ErpExporter(stores, ErpFileWriter(out), rb.clock, endpoint)


def batches(rb: App) -> list[tuple[str, str, int, str | None]]:
    with rb.engine.connect() as conn:
        rows = conn.execute(select(erp_exports).order_by(erp_exports.c.id))
        return [(r.batch_key, r.status, r.attempts, r.answer) for r in rows]


def test_an_erp_answering_503_twice_then_200_gets_the_batch_once(
    make_app, sqlite_url: str, erp_server: RunningErpSandbox, erp: ErpSandbox, tmp_path: Path
) -> None:
    rb = make_app(sqlite_url)
    a_day(rb)
    erp.token = "erp-secret"
    erp.fail_next[:] = [503, 503]
    report = delivering(rb, tmp_path, erp_server.batches_url, "erp-secret").run()
    (key,) = report.delivered
    assert erp.requests == [(key, 503), (key, 503), (key, 201)]
    assert list(erp.accepted) == [key]
    lines, totals, _ = db_journals(rb)
    assert len(erp.accepted[key]["lines"]) == lines
    assert file_totals(erp.accepted[key]["lines"]) == totals
    rows = json_rows(tmp_path / f"{key}.jsonl")
    assert erp.accepted[key]["lines"] == journal_rows(rows)
    # The stock adjustments travel beside the journal lines, as the JSON-lines file has them.
    assert erp.accepted[key]["stock_adjustments"] == stock_rows(rows)
    assert [r["journal_id"] for r in stock_rows(rows)] == list(db_movements(rb))
    assert batches(rb) == [(key, "delivered", 1, "HTTP 201")]
    # A second run has nothing new and nothing left to deliver.
    again = delivering(rb, tmp_path, erp_server.batches_url, "erp-secret").run()
    assert again.delivered == [] and len(erp.requests) == 3


def json_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_4xx_refuses_the_batch_without_a_retry_and_a_person_can_send_it_again(
    make_app, sqlite_url: str, erp_server: RunningErpSandbox, erp: ErpSandbox, tmp_path: Path
) -> None:
    rb = make_app(sqlite_url)
    a_day(rb)
    erp.fail_next[:] = [422]
    report = delivering(rb, tmp_path, erp_server.batches_url).run()
    (key,) = report.refused
    assert report.delivered == [] and erp.requests == [(key, 422)]
    ((_, status, attempts, answer),) = batches(rb)
    assert (status, attempts) == ("refused", 1)
    assert answer is not None and answer.startswith("HTTP 422") and "injected" in answer
    # Not retried by later runs; new journals still flow in their own batch.
    regrade(rb, "R1", "D", "DESTROY")
    later = delivering(rb, tmp_path, erp_server.batches_url).run()
    (fresh,) = later.delivered
    assert later.refused == [] and [k for k, _ in erp.requests].count(key) == 1
    # A person fixed the cause: the same batch goes again, under the same key.
    exporter = delivering(rb, tmp_path, erp_server.batches_url)
    exporter.requeue(key)
    assert exporter.run().delivered == [key]
    assert sorted(erp.accepted) == sorted([key, fresh])
    assert [b[1] for b in batches(rb)] == ["delivered", "delivered"]


def test_an_erp_out_of_reach_leaves_the_batch_for_the_next_run(
    make_app, sqlite_url: str, erp_server: RunningErpSandbox, erp: ErpSandbox, tmp_path: Path
) -> None:
    rb = make_app(sqlite_url)
    a_day(rb)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/journal-batches"
    report = delivering(rb, tmp_path, closed).run()
    assert report.undelivered == 1 and report.delivered == []
    ((key, status, attempts, answer),) = batches(rb)
    assert (status, attempts) == ("written", 1) and answer and "4 attempts" in answer
    assert delivering(rb, tmp_path, erp_server.batches_url).run().delivered == [key]
    assert erp.requests == [(key, 201)]


def test_the_cli_exports_and_delivers_on_sqlite(
    make_app, tmp_path: Path, erp_server: RunningErpSandbox, erp: ErpSandbox
) -> None:
    db_file = tmp_path / "rb.db"
    rb = make_app(f"sqlite:///{db_file}")
    a_day(rb)
    rb.close()
    out = tmp_path / "erp"
    env = {
        **os.environ,
        "RETURNBRIDGE_ERP_ENDPOINT_URL": erp_server.batches_url,
        "RETURNBRIDGE_ERP_API_TOKEN": "cli-secret",
    }
    erp.token = "cli-secret"
    erp.fail_next[:] = [502]
    run = [sys.executable, "-m", "returnbridge", "export", "erp", "--out", str(out)]
    first = subprocess.run(
        [*run, "--db", f"sqlite:///{db_file}"], env=env, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    assert "1 batch(es) delivered, 0 refused" in first.stdout
    assert "1 stock adjustment(s)" in first.stdout
    assert "cli-secret" not in first.stdout + first.stderr
    (key,) = erp.accepted
    rows = read_csv(out / f"{key}.csv")
    with sqlite3.connect(db_file) as conn:
        (lines,) = conn.execute("SELECT count(*) FROM journal_lines").fetchone()
        (status,) = conn.execute("SELECT status FROM erp_exports").fetchone()
    assert len(journal_rows(rows)) == lines and status == "delivered"
    assert len(stock_rows(rows)) == 1
    again = subprocess.run(
        [*run, "--db", f"sqlite:///{db_file}"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and "no journals or stock adjustments waiting" in again.stdout
    rewrite = tmp_path / "rewrite"
    copy = subprocess.run(
        [*run[:-1], str(rewrite), "--batch", key, "--db", f"sqlite:///{db_file}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert copy.returncode == 0, copy.stderr
    assert (rewrite / f"{key}.csv").read_bytes() == (out / f"{key}.csv").read_bytes()
    assert erp.requests == [(key, 502), (key, 201)]
