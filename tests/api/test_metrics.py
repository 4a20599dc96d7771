"""``/metrics`` over real HTTP: every metric the Prometheus rules read is exported, each figure
equals the database, the credit report is read at most once a minute, and what the clearing
cycles' requests to Amazon cost is counted in the database, whichever run sent them."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from api_support import Api, StartApi, graded_return, send, unknown_sku
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Select, func, select

from returnbridge.bootstrap import App
from returnbridge.domain.auth import Role
from returnbridge.domain.credits import PendingCause
from returnbridge.domain.errors import AmazonUnavailable
from returnbridge.entrypoints.http.metrics import MetricsCollector
from returnbridge.services.cycles import AmazonCalls, ClearingCycle, CycleReport
from returnbridge.services.finance import credit_report
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import (
    CreditNote,
    InboxRecord,
    InventoryPosition,
    TransactionError,
    TransactionStatus,
)
from returnbridge.store.cycles import cycle_transaction
from returnbridge.store.finance import SqlFinanceStore
from returnbridge.store.tables import clearing_cycles, exceptions, inbox, outbox

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRICS_DOC = ROOT / "docs" / "metrics.md"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class CountingVendor:
    """Amazon as a cycle sees it, counting requests as the SP-API connector does: the first
    submission is throttled once and retried; the stock update fails for its first item, the
    credit notes succeed. ``down``: every submission fails after three attempts."""

    def __init__(self) -> None:
        self.calls = AmazonCalls()
        self.down = False
        self.transactions: dict[str, str] = {}

    def _submit(self, kind: str) -> str:
        first = not self.transactions
        attempts = 3 if self.down else 2 if first else 1
        self.calls = AmazonCalls(
            self.calls.requests + attempts,
            self.calls.retries + attempts - 1,
            self.calls.throttled + attempts - 1,
        )
        if self.down:
            raise AmazonUnavailable("connection refused (scripted)")
        transaction_id = f"tx-{len(self.transactions) + 1}"
        self.transactions[transaction_id] = kind
        return transaction_id

    def submit_inventory(self, warehouse_id: str, positions: Sequence[InventoryPosition]) -> str:
        return self._submit("inventory")

    def submit_credit_notes(self, notes: Sequence[CreditNote]) -> str:
        return self._submit("credit_notes")

    def inventory_status(self, transaction_id: str) -> TransactionStatus:
        error = TransactionError("InvalidProduct", "unknown at this warehouse", "items[0]")
        return TransactionStatus(transaction_id, "Failure", (error,))

    def credit_note_status(self, transaction_id: str) -> TransactionStatus:
        return TransactionStatus(transaction_id, "Success")


def close_cycle(rb: App, vendor: CountingVendor) -> CycleReport:
    cycle = ClearingCycle(
        lambda: cycle_transaction(rb.engine), vendor, rb.clock, meter=lambda: vendor.calls
    )
    return cycle.close(poll_rounds=1)


def leave_in_inbox(rb: App, count: int) -> None:
    """ZigZag events stored and not processed yet."""
    events = [graded_return(f"RW{n}")[0] for n in range(count)]
    records = [
        InboxRecord("zigzag", e["id"], e["type"], json.dumps(e), f"zz:{e['returnId']}")
        for e in events
    ]
    with rb.stores() as store:
        ingest(store, records, rb.clock())


def scrape(api: Api) -> tuple[set[str], Samples]:
    answer = api.client.get("/metrics", headers=api.as_(Role.VIEWER))
    assert answer.status_code == 200, answer.text
    names: set[str] = set()
    values: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            names.add(sample.name)
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return names, values


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {dict(k[1])[label]: v for k, v in samples.items() if k[0] == name}


def counted(rb: App, query: Select[Any]) -> dict[str, int]:
    """``key, count`` rows as a dict."""
    with rb.engine.connect() as conn:
        return {str(key): int(n) for key, n in conn.execute(query)}


@pytest.fixture
def api(start_api: StartApi) -> Api:
    """A day with something everywhere: held lines, a cycle Amazon partly rejected (after a
    429), a return waiting for the next cycle, an unknown SKU, and events not processed yet."""
    api = start_api(stock=2, money=1)
    send(api.rb, graded_return("RG1"))
    close_cycle(api.rb, CountingVendor())
    send(api.rb, graded_return("RG2"))
    send(api.rb, unknown_sku("RU1"))
    leave_in_inbox(api.rb, 2)
    return api


def test_every_metric_the_prometheus_rules_read_is_exported_and_documented(api: Api) -> None:
    names, _ = scrape(api)
    table = METRICS_DOC.read_text(encoding="utf-8")
    assert set(re.findall(r"^\| `(returnbridge_[a-z_]+)` \|", table, flags=re.M)) == names
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    read = {
        metric
        for group in groups
        for rule in group["rules"]
        for metric in re.findall(r"\breturnbridge_[a-z_]+", rule["expr"])
    }
    assert len(read) > 10
    assert read - names == set()


def test_the_figures_equal_the_database(api: Api) -> None:
    rb = api.rb
    _, samples = scrape(api)
    assert value(samples, "returnbridge_inbox_pending_events") == 2
    assert value(samples, "returnbridge_inbox_oldest_pending_age_seconds") > 0
    ended = counted(rb, select(inbox.c.status, func.count()).group_by(inbox.c.status))
    assert ended["processed"] > 0
    assert by_label(samples, "returnbridge_inbox_events_total", "status") == {
        status: ended.get(status, 0) for status in ("processed", "invalid", "failed")
    }
    pending = counted(
        rb,
        select(outbox.c.topic, func.count())
        .where(outbox.c.status == "pending")
        .group_by(outbox.c.topic),
    )
    assert pending["amazon.inventory"] == pending["amazon.credit_note"] == 1
    assert by_label(samples, "returnbridge_outbox_pending_messages", "topic") == pending
    open_now = counted(
        rb,
        select(exceptions.c.code, func.count())
        .where(exceptions.c.status == "open")
        .group_by(exceptions.c.code),
    )
    exported = by_label(samples, "returnbridge_exceptions_open", "code")
    assert {code: n for code, n in exported.items() if n} == open_now
    assert open_now["AMAZON_REJECTED"] == 1
    assert by_label(samples, "returnbridge_unmapped_code_open", "value") == {
        "42": 2,
        "LATE_FEE": 1,
        "MYSTERY-1": 1,
    }
    # The cycle: one stock update (rejected after a 429 and a retry), one credit-note batch.
    assert value(samples, "returnbridge_amazon_requests_total") == 3
    assert value(samples, "returnbridge_amazon_retries_total") == 1
    assert value(samples, "returnbridge_amazon_throttled_total") == 1
    assert value(samples, "returnbridge_amazon_items_rejected_total") == 1
    assert by_label(samples, "returnbridge_amazon_changes_answered", "outcome") == {
        "accepted": 1,
        "rejected": 1,
    }
    assert value(samples, "returnbridge_amazon_sync_lag_seconds") > 0
    assert value(samples, "returnbridge_amazon_sync_lag_limit_seconds") == 25 * 3600
    # Credit: RG1's note awaits Amazon's payment, RG2's awaits the next cycle.
    with rb.engine.connect() as conn:
        rows = credit_report(SqlFinanceStore(conn))
    owed: dict[str, float] = defaultdict(float)
    for (name, labels), amount in samples.items():
        label = dict(labels)
        if name == "returnbridge_credit_pending_minor" and label["cause"] != PendingCause.DISPUTED:
            owed[label["currency"]] += amount
    assert owed == {"GBP": sum(r.pending for r in rows)} == {"GBP": 4000}
    assert (
        value(
            samples,
            "returnbridge_credit_pending_minor",
            currency="GBP",
            cause="awaiting_remittance",
            bucket="0-7",
        )
        == 2000
    )


def test_the_credit_report_and_the_inbox_totals_are_read_at_most_once_a_minute(
    api: Api,
) -> None:
    clock = [0.0]
    collector = MetricsCollector(api.rb, slow_seconds=60, timer=lambda: clock[0])

    def figures() -> dict[str, float]:
        found = {}
        for family in collector.collect():
            for sample in family.samples:
                if not sample.labels or sample.labels.get("topic") == "amazon.credit_note":
                    found[sample.name] = sample.value
        found["credit"] = sum(
            s.value
            for family in collector.collect()
            if family.name == "returnbridge_credit_pending_minor"
            for s in family.samples
        )
        return found

    before = figures()
    send(api.rb, graded_return("RG3"))
    clock[0] = 59.0
    cached = figures()
    assert cached["returnbridge_outbox_pending_messages"] == 2  # the queues: at each scrape
    assert cached["credit"] == before["credit"]
    clock[0] = 60.0
    assert figures()["credit"] == before["credit"] + 2000


def test_a_run_that_only_sends_what_an_earlier_one_left_adds_its_cost_to_that_cycle(
    start_api: StartApi,
) -> None:
    rb = start_api().rb
    vendor = CountingVendor()
    vendor.down = True
    send(rb, graded_return("RA1"))
    first = close_cycle(rb, vendor)
    # Amazon unreachable: the first request fails after three attempts, the second waits.
    assert first.unsent == 2 and first.calls == AmazonCalls(3, 2, 2)
    vendor.down = False
    second = close_cycle(rb, vendor)  # nothing new to prepare: it sends cycle 1's requests
    assert second.cycle_id is None and second.calls == AmazonCalls(3, 1, 1)
    with rb.engine.connect() as conn:
        rows = conn.execute(select(clearing_cycles)).all()
    assert [
        (r.id, r.amazon_requests, r.amazon_retries, r.amazon_throttled, r.items_rejected)
        for r in rows
    ] == [(first.cycle_id, 6, 3, 3, 1)]
