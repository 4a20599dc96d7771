"""`reconcile --check` names the invariant a tampered row breaks."""

from __future__ import annotations

import pytest
from pipeline_support import full_return, send
from sqlalchemy import delete, select, update

from returnbridge.bootstrap import App
from returnbridge.services.reconcile import Invariant, check
from returnbridge.store.readmodels import SqlLedgerAudit
from returnbridge.store.tables import (
    case_events,
    inbox,
    journal_lines,
    outbox,
    return_lines,
    stock_movements,
)


def _broken(rb: App) -> set[Invariant]:
    with rb.engine.connect() as conn:
        return {b.invariant for b in check(SqlLedgerAudit(conn))}


@pytest.fixture
def day(rb: App) -> App:
    send(
        rb,
        *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2),
        *full_return("R2", "CAS-456-WHT-L", "C", "LIQUIDATE"),
    )
    assert _broken(rb) == set()
    return rb


TAMPERING = {
    "a line's units no longer add up": (
        lambda: (
            update(return_lines)
            .where(return_lines.c.units_liquidated == 1)
            .values(units_liquidated=2)
        ),
        {Invariant.UNITS_CONSERVED},
    ),
    "restocked units without their stock movement": (
        lambda: delete(stock_movements),
        {Invariant.STOCK_MATCHES_RESTOCKED},
    ),
    "stock booked on another SKU than its line's": (
        lambda: update(stock_movements).values(sku="CAS-456-WHT-L"),
        {Invariant.STOCK_MATCHES_RESTOCKED},
    ),
    "a journal line edited on one side": (
        lambda: (
            update(journal_lines)
            .where(journal_lines.c.debit > 0)
            .values(debit=journal_lines.c.debit + 1)
        ),
        {Invariant.JOURNALS_BALANCED},
    ),
    "a processed event whose application is gone": (
        lambda: delete(case_events).where(
            case_events.c.id == select(case_events.c.id).limit(1).scalar_subquery()
        ),
        {Invariant.EVENTS_APPLIED_ONCE},
    ),
    "an applied event put back in the queue": (
        lambda: update(inbox).where(inbox.c.id == 1).values(status="pending"),
        {Invariant.EVENTS_APPLIED_ONCE},
    ),
    "an outbox message lost": (
        lambda: delete(outbox).where(outbox.c.topic == "erp.journal"),
        {Invariant.OUTBOX_COMPLETE},
    ),
}


@pytest.mark.parametrize("tamper", list(TAMPERING), ids=list(TAMPERING))
def test_tampering_breaks_exactly_the_invariant_it_should(day: App, tamper: str) -> None:
    statement, expected = TAMPERING[tamper]
    with day.engine.begin() as conn:
        conn.execute(statement())
    assert _broken(day) == expected
