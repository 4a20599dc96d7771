"""Helpers for the service tests: the demo's API, and finding a demo return by what it holds."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.store.tables import (
    amazon_remittance_lines,
    case_events,
    credit_movements,
    inbox,
    outbox,
    return_cases,
    return_lines,
)


@dataclass
class DemoApi:
    """The service over a copy of a demo's database; ``client`` holds a viewer's token."""

    rb: App
    client: httpx.Client
    out: Path  # the demo's folder (catalog.csv, ...)

    def catalog_row(self, sku: str) -> dict[str, str]:
        with (self.out / "catalog.csv").open(encoding="utf-8", newline="") as f:
            return next(row for row in csv.DictReader(f) if row["sku"] == sku)


def refunded_and_remitted_case(rb: App) -> int:
    """A return Amazon refunded at first scan, that ZigZag received, and whose credit note a
    remittance took back: its timeline holds both systems from start to end."""
    refunded = (
        select(case_events.c.case_id)
        .join(inbox, inbox.c.id == case_events.c.inbox_id)
        .where(inbox.c.source == "amazon")
    )
    remitted = (
        select(return_lines.c.case_id)
        .join(credit_movements, credit_movements.c.line_ref == return_lines.c.id)
        .join(outbox, outbox.c.message_key == "credit/" + credit_movements.c.movement_key)
        .join(
            amazon_remittance_lines,
            amazon_remittance_lines.c.document_number == outbox.c.document,
        )
    )
    with rb.engine.connect() as conn:
        return int(
            conn.execute(
                select(return_cases.c.id)
                .where(
                    return_cases.c.id.in_(refunded),
                    return_cases.c.id.in_(remitted),
                    return_cases.c.return_id.is_not(None),
                )
                .order_by(return_cases.c.id)
                .limit(1)
            ).scalar_one()
        )
