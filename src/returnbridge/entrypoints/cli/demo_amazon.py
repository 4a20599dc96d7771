"""The demo's Amazon leg: the SP-API sandbox in-process, and the day's clearing cycles.

The figures it reports are the issue's: submission calls (retries included) against the
fewest the data allowed (``min_calls``) and one call per returned unit (``naive_calls``), 429s,
retries, status polls and token requests apart, rejections (ours and the sandbox's own count of
distinct rejected records), stock mismatches between the sandbox and what the stock authority
says Amazon should hold after the last cycle (the snapshot plus the restocks since), the stock
positions sent and held, and credit mismatches between what each return owes Amazon and what
Amazon holds.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from pathlib import Path
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
from returnbridge.sandboxes.amazon.exports import write_credit_note_remittance
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.services.cycles import CycleReport
from returnbridge.store.cycles import cycle_transaction
from returnbridge.store.tables import exceptions, outbox, stock_movements, stock_snapshots

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

    def __init__(
        self,
        rb: App,
        seed: int,
        faults: float,
        reject_rate: float,
        opening: tuple[tuple[str, str, int], ...] = (),
    ) -> None:
        self.rb = rb
        config = SandboxConfig(
            seed=seed, polls_until_final=1, reject_rate=reject_rate, opening_stock=opening
        )
        self.opening = {(w, sku): units for w, sku, units in opening}
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
            expected = _expected_stock(conn, store.warehouse_map().dcs)
            messages = [
                (r.topic, json.loads(r.payload))
                for r in conn.execute(
                    select(outbox.c.topic, outbox.c.payload).where(
                        outbox.c.topic.in_(["amazon.inventory", "amazon.credit_note"])
                    )
                )
            ]
            amazon_exceptions = [
                (r.code, r.status, json.loads(r.raw))
                for r in conn.execute(
                    select(exceptions.c.code, exceptions.c.status, exceptions.c.raw).where(
                        exceptions.c.code.in_(
                            ["AMAZON_REJECTED", "AMAZON_STUCK", "CREDIT_OVERSTATED"]
                        )
                    )
                )
            ]
        # One call per returned unit: each unit's stock change and its credit posted alone.
        naive = sum(abs(int(p.get("delta", p.get("quantity", 0)))) for _, p in messages)
        explained = {
            tuple(raw["record"]) for code, status, raw in amazon_exceptions if status == "open"
        }
        ours_rejected = {
            tuple(raw["record"]) for code, _, raw in amazon_exceptions if code == "AMAZON_REJECTED"
        }
        sandbox = self.running.sandbox
        amazon_stock = dict(sandbox.stock)
        positions = set(expected) | set(amazon_stock)
        differing = {p for p in positions if expected.get(p) != amazon_stock.get(p)}
        stock_explained = {p for p in differing if ("inventory", f"{p[0]}/{p[1]}") in explained}
        # Credit: what each return owes Amazon by the ledger against what Amazon holds.
        owed: dict[str, int] = {}
        credited: dict[str, int] = {}
        for topic, payload in messages:
            if topic == "amazon.credit_note":
                amount = int(payload["quantity"]) * int(payload["unit_amount"])
                reference = payload["returns_reference"]
                owed[reference] = owed.get(reference, 0) + amount
        for note in sandbox.credit_notes.values():
            reference = note["items"][0]["creditNoteDetails"]["returnsReferenceNumber"]
            credited[reference] = credited.get(reference, 0) + _minor(note["invoiceTotal"])
        explained_refs = {
            raw.get("returns_reference")
            for code, status, raw in amazon_exceptions
            if status == "open" and raw["record"][0] in ("invoice", "credit")
        }
        credit_differing = {
            r for r in set(owed) | set(credited) if owed.get(r, 0) != credited.get(r, 0)
        }
        stats = self.vendor.stats
        last = self.reports[-1].stock if self.reports else None
        held = last.held if last else {}
        stock = {
            "positions_sent": sum(r.stock.positions for r in self.reports if r.stock),
            "held_missing": held.get("STOCK_SNAPSHOT_MISSING", 0),
            "held_stale": held.get("STOCK_SNAPSHOT_STALE", 0),
            "held_drop": held.get("STOCK_DROP_HELD", 0),
            "unmapped_warehouse": len(last.unmapped_dcs) if last else 0,
            "below_opening": sum(
                1 for p, units in self.opening.items() if amazon_stock.get(p, 0) < units
            ),
            "warehouses": sorted({warehouse for warehouse, _ in amazon_stock}),
        }
        return {
            "stock": stock,
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
            "rejected_lines": sum(
                1 for code, _, _ in amazon_exceptions if code == "AMAZON_REJECTED"
            ),
            "rejected_items": len(ours_rejected),
            "sandbox_rejected_items": len(sandbox.rejected_records()),
            "rejections_unmatched": len(ours_rejected ^ sandbox.rejected_records()),
            "positions_rejected": len(stock_explained),
            "stock_mismatches": len(differing - stock_explained),
            "credit_notes": len(sandbox.credit_notes),
            "credit_notes_resent_refused": sandbox.duplicate_credit_notes,
            "credit_notes_confirmed_held": sum(r.already_held for r in self.reports),
            "credited_minor": sum(credited.values()),
            "credit_owed_minor": sum(owed.values()),
            "credit_overstated_lines": sum(
                1 for code, _, _ in amazon_exceptions if code == "CREDIT_OVERSTATED"
            ),
            "credit_held_back_returns": len(credit_differing & explained_refs),
            "credit_mismatches": len(credit_differing - explained_refs),
        }

    def remittance(self, path: Path, seed: int) -> int:
        """Amazon's remittance export for the credit notes it accepted (a share of them paid)."""
        return write_credit_note_remittance(dict(self.running.sandbox.credit_notes), path, seed)

    def stop(self) -> None:
        self.vendor.close()
        self.running.stop()


def _expected_stock(conn: Any, dcs: Mapping[str, str]) -> dict[tuple[str, str], int]:
    """What Amazon should hold per (Amazon warehouse, SKU): the snapshot plus the net units
    restocked at the warehouse's DCs with a business time after the snapshot's as_of."""
    s, m = stock_snapshots.c, stock_movements.c
    snapshots = {(r.warehouse, r.sku): (int(r.available), r.as_of) for r in conn.execute(
        select(s.warehouse, s.sku, s.available, s.as_of))}  # fmt: skip
    expected = {key: available for key, (available, _) in snapshots.items()}
    for r in conn.execute(select(m.warehouse, m.sku, m.quantity, m.occurred_at, m.created_at)):
        key = (dcs.get(r.warehouse, ""), r.sku)
        at = r.occurred_at or r.created_at
        if key in snapshots and at > snapshots[key][1]:
            expected[key] += int(r.quantity)
    return {key: max(0, units) for key, units in expected.items()}


def _minor(money: dict[str, str]) -> int:
    """An SP-API ``Money`` amount ("12.50") in minor units, without floats."""
    whole, _, cents = money["amount"].lstrip("-").partition(".")
    value = int(whole) * 100 + int((cents + "00")[:2])
    return -value if money["amount"].startswith("-") else value
