"""Helpers for the ERP export tests: a day of returns, the files read back, the DB's journals
and stock movements."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_support import charge, full_return, send, zz_event
from sqlalchemy import select

from returnbridge.bootstrap import App
from returnbridge.services.erp_export import COLUMNS, STOCK_ADJUSTMENT, JournalMessage
from returnbridge.store.tables import journal_entries, journal_lines, stock_movements


def a_day(rb: App) -> None:
    send(
        rb,
        *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2),
        *full_return("R2", "CAS-456-WHT-L", "C", "LIQUIDATE"),
        *full_return("R3", "cas123blkm", "D", "DESTROY"),
        charge("R2", 800),
    )


def regrade(rb: App, return_id: str, grade: str, disposition: str) -> None:
    send(
        rb,
        zz_event(
            f"{return_id}-regrade",
            "return.disposition_set",
            return_id,
            900,
            lines=[{"lineId": "1", "grade": grade, "disposition": disposition}],
        ),
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def journal_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["kind"] != STOCK_ADJUSTMENT]


def stock_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row["kind"] == STOCK_ADJUSTMENT]


def db_movements(rb: App) -> dict[str, tuple[str, str, int, datetime]]:
    """The stock movements in the database by the ``journal_id`` their ERP row carries
    (``stock/<movement key>``): (warehouse, SKU, units, business time)."""
    with rb.engine.connect() as conn:
        rows = conn.execute(select(stock_movements)).all()
    return {
        f"stock/{r.movement_key}": (r.warehouse, r.sku, r.quantity, _utc(r.occurred_at))
        for r in rows
    }


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def file_totals(rows: list[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    totals: Counter[tuple[str, str, str]] = Counter()
    for row in rows:
        totals[(row["gl_account"], row["currency"], "debit")] += int(row["debit"])
        totals[(row["gl_account"], row["currency"], "credit")] += int(row["credit"])
    return +totals


def db_journals(rb: App) -> tuple[int, Counter[tuple[str, str, str]], set[str]]:
    """(lines, debit / credit totals per account and currency, entry keys) in the database."""
    with rb.engine.connect() as conn:
        rows = conn.execute(
            select(
                journal_entries.c.entry_key,
                journal_entries.c.currency,
                journal_lines.c.account,
                journal_lines.c.debit,
                journal_lines.c.credit,
            ).join(journal_lines, journal_lines.c.entry_id == journal_entries.c.id)
        ).all()
    totals: Counter[tuple[str, str, str]] = Counter()
    for r in rows:
        totals[(r.account, r.currency, "debit")] += r.debit
        totals[(r.account, r.currency, "credit")] += r.credit
    return len(rows), +totals, {r.entry_key for r in rows}


def unbalanced_journal(at: datetime) -> JournalMessage:
    """An ``erp.journal`` message (outbox id 7) whose entry debits 100 and credits 99."""
    return JournalMessage(
        7,
        {
            "entry_key": "1/1/1",
            "kind": "disposition",
            "currency": "GBP",
            "postings": [
                {"account": "1300", "debit": 100, "credit": 0},
                {"account": "1390", "debit": 0, "credit": 99},
            ],
        },
        at,
    )
