"""The demo's Amazon leg: the SP-API sandbox in-process, and the day's clearing cycles.

The figures it reports are the issue's: submission calls (retries included) against the
fewest the data allowed (``min_calls``) and one call per returned unit (``naive_calls``), 429s,
retries, status polls and token requests apart, rejections (ours and the sandbox's own count),
and stock mismatches between the sandbox and the ledger after the last cycle.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.limits import RetryPolicy
from returnbridge.connectors.amazon.spapi import SpApiConfig, SpApiVendor
from returnbridge.sandboxes.amazon.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    SandboxConfig,
)
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.services.cycles import CycleReport
from returnbridge.store.cycles import cycle_transaction
from returnbridge.store.tables import exceptions, outbox, stock_movements

CATCH_UP_CYCLES = 3  # items released from a failed transaction go again in the next cycle


def sandbox_vendor(running: RunningSandbox, **options: Any) -> SpApiVendor:
    """The SP-API connector pointed at a running sandbox with its published credentials."""
    config = SpApiConfig(
        endpoint=running.url,
        lwa_url=running.lwa_url,
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        refresh_token=DEFAULT_REFRESH_TOKEN,
        selling_party="CASTORE",
        remit_to_party="CASTORE",
    )
    return SpApiVendor(config, **options)


def sandbox_env(running: RunningSandbox) -> dict[str, str]:
    """The RETURNBRIDGE_AMAZON_* settings that point returnbridge at a running sandbox."""
    return {
        "RETURNBRIDGE_AMAZON_ENDPOINT": running.url,
        "RETURNBRIDGE_AMAZON_LWA_URL": running.lwa_url,
        "RETURNBRIDGE_AMAZON_CLIENT_ID": DEFAULT_CLIENT_ID,
        "RETURNBRIDGE_AMAZON_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        "RETURNBRIDGE_AMAZON_REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN,
        "RETURNBRIDGE_AMAZON_SELLING_PARTY": "CASTORE",
    }


class AmazonLeg:
    """Owns the sandbox and the connector for one demo run."""

    def __init__(self, rb: App, seed: int, faults: float, reject_rate: float) -> None:
        self.rb = rb
        config = SandboxConfig(seed=seed, polls_until_final=1, reject_rate=reject_rate)
        self.running: RunningSandbox = start_sandbox(config.with_faults(faults))
        self.vendor = sandbox_vendor(
            self.running,
            retry=RetryPolicy(attempts=12, base_seconds=0.02, cap_seconds=0.5),
            rng=random.Random(seed),
        )
        self.reports: list[CycleReport] = []

    def close_cycle(self) -> CycleReport:
        report = self.rb.clearing_cycle(self.vendor).close(40, time.sleep, 0.02)
        self.reports.append(report)
        return report

    def catch_up(self) -> None:
        """Cycles until nothing is left pending (items released by failed transactions)."""
        for _ in range(CATCH_UP_CYCLES):
            if self.close_cycle().prepared == 0:
                return

    def figures(self) -> dict[str, Any]:
        engine = self.rb.engine
        with cycle_transaction(engine) as store:
            conn = store.conn
            ledger: dict[tuple[str, str], int] = {}
            for r in conn.execute(
                select(
                    stock_movements.c.warehouse, stock_movements.c.sku, stock_movements.c.quantity
                )
            ):
                ledger[(r.warehouse, r.sku)] = ledger.get((r.warehouse, r.sku), 0) + r.quantity
            naive = sum(
                abs(json.loads(r.payload)["delta"])
                for r in conn.execute(
                    select(outbox.c.payload).where(outbox.c.topic == "amazon.inventory")
                )
            )
            explained = {
                (raw["warehouse"], raw["sku"])
                for raw in (
                    json.loads(r.raw)
                    for r in conn.execute(
                        select(exceptions.c.raw).where(
                            exceptions.c.code.in_(["AMAZON_REJECTED", "AMAZON_STUCK"]),
                            exceptions.c.status == "open",
                        )
                    )
                )
            }
            rejected_lines = len(
                conn.execute(
                    select(exceptions.c.id).where(exceptions.c.code == "AMAZON_REJECTED")
                ).all()
            )
        amazon_stock = dict(self.running.sandbox.stock)
        positions = {k for k, v in ledger.items() if v} | {k for k, v in amazon_stock.items() if v}
        differing = {p for p in positions if ledger.get(p, 0) != amazon_stock.get(p, 0)}
        stats = self.vendor.stats
        return {
            "cycles": len(self.reports),
            "calls": stats.calls,
            "retries": stats.retries,
            "min_calls": sum(r.min_calls for r in self.reports),
            "naive_calls": naive,
            "throttled": stats.throttled,
            "server_errors": stats.server_errors,
            "connection_errors": stats.connection_errors,
            "status_polls": stats.status_polls,
            "token_requests": stats.token_requests,
            "rejected_lines": rejected_lines,
            "rejected_items": sum(r.rejected_items for r in self.reports),
            "sandbox_rejected_items": len(self.running.sandbox.rejected_items),
            "positions_rejected": len(differing & explained),
            "stock_mismatches": len(differing - explained),
        }

    def stop(self) -> None:
        self.vendor.close()
        self.running.stop()
