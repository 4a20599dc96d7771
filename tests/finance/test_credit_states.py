"""Credit states against a real database and the Amazon sandbox: a line's credit is credited
once cleared, pending (aged, by cause) until then, disputed when Amazon rejects or deducts."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from pipeline_support import T0, full_return, send
from sqlalchemy import insert, select, update

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.limits import RetryPolicy
from returnbridge.connectors.amazon.spapi import SpApiVendor
from returnbridge.domain.credits import CreditRow, CreditState, PendingCause, ageing
from returnbridge.entrypoints.cli.demo_amazon import sandbox_vendor
from returnbridge.sandboxes.amazon.config import SandboxConfig
from returnbridge.sandboxes.amazon.server import RunningSandbox, start_sandbox
from returnbridge.services.cycles import ClearingCycle, CycleSettings
from returnbridge.services.finance import credit_report, open_over_returns
from returnbridge.services.reconcile import Invariant, check
from returnbridge.store.cycles import SqlCycleStore, cycle_transaction
from returnbridge.store.finance import SqlFinanceStore, finance_figures
from returnbridge.store.readmodels import SqlLedgerAudit
from returnbridge.store.sql import transaction
from returnbridge.store.tables import (
    amazon_remittance_lines,
    amazon_return_requests,
    credit_movements,
    exceptions,
    journal_lines,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def amazon() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(seed=2, polls_until_final=1)) as running:
        yield running


@pytest.fixture
def vendor(amazon: RunningSandbox) -> Iterator[SpApiVendor]:
    client = sandbox_vendor(
        amazon,
        retry=RetryPolicy(attempts=12, base_seconds=0.01, cap_seconds=0.1),
        rng=random.Random(4),
    )
    yield client
    client.close()


def close_cycle(rb: App, vendor: SpApiVendor) -> None:
    def stores() -> AbstractContextManager[SqlCycleStore]:
        return cycle_transaction(rb.engine)

    ClearingCycle(stores, vendor, rb.clock, CycleSettings()).close()


def rows(rb: App) -> dict[str, CreditRow]:
    with rb.engine.connect() as conn:
        return {r.line.reference: r for r in credit_report(SqlFinanceStore(conn))}


def note_of(rb: App, return_id: str) -> str:
    return rows(rb)[return_id].documents[0]


def remit(rb: App, number: str, amount: int, deductions: int = 0, line_no: int = 1) -> None:
    with rb.engine.begin() as conn:
        conn.execute(
            insert(amazon_remittance_lines).values(
                payment_id="70000001",
                document_number=number,
                line_no=line_no,
                document_type="credit_note",
                amount=-amount,
                currency="GBP",
                paid_at=T0 + timedelta(days=20),
                deductions=json.dumps([{"type": "DAMAGE_ALLOWANCE", "amount": deductions}]),
                deductions_total=deductions,
                description="Returns credit",
                imported_at=T0 + timedelta(days=21),
            )
        )


def request(rb: App, return_id: str, requested: int, approved: int) -> None:
    with rb.engine.begin() as conn:
        conn.execute(
            insert(amazon_return_requests).values(
                request_id=f"AMZ-RR-{return_id}",
                vendor_code="CASTO",
                order_id=f"order-of-{return_id}",
                asin="B0CAS12345",
                quantity_requested=requested,
                quantity_approved=approved,
                refund_amount=2000 * approved,
                currency="GBP",
                condition="sellable",
                requested_at=T0,
                imported_at=T0,
            )
        )


def breaches(rb: App) -> dict[Invariant, list[str]]:
    with rb.engine.connect() as conn:
        found: dict[Invariant, list[str]] = {}
        for breach in check(SqlLedgerAudit(conn)):
            found.setdefault(breach.invariant, []).append(breach.detail)
        return found


def test_a_line_credited_and_cleared_in_a_remittance_is_matched(
    rb: App, vendor: SpApiVendor
) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2))
    close_cycle(rb, vendor)
    remit(rb, note_of(rb, "R1"), 4000)
    row = rows(rb)["R1"]
    assert (row.line.expected, row.credited, row.pending, row.disputed) == (4000, 4000, 0, 0)
    assert row.state is CreditState.MATCHED and row.payments == ("70000001",)


def test_a_credit_note_amazon_confirmed_but_no_payment_took_back_is_pending_and_aged(
    rb: App, vendor: SpApiVendor
) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"))
    row = rows(rb)["R1"]
    assert row.causes == {PendingCause.NOT_SENT: 2000}
    close_cycle(rb, vendor)
    row = rows(rb)["R1"]
    assert (row.credited, row.pending, row.state) == (0, 2000, CreditState.UNMATCHED)
    assert row.causes == {PendingCause.AWAITING_REMITTANCE: 2000}
    table = ageing([row], T0 + timedelta(days=10))["GBP"]
    assert table["awaiting_remittance"] == {"0-7": 0, "8-30": 2000, "31-60": 0, "61+": 0}
    assert ageing([row], T0 + timedelta(days=70))["GBP"]["awaiting_remittance"]["61+"] == 2000


def test_a_credit_note_amazon_rejects_is_disputed(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    amazon.sandbox.reset(SandboxConfig(seed=5, reject_rate=1.0))
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"))
    close_cycle(rb, vendor)
    row = rows(rb)["R1"]
    assert (row.credited, row.pending, row.disputed) == (0, 0, 2000)
    assert row.state is CreditState.DISPUTED
    assert ageing([row], T0)["GBP"]["disputed"]["0-7"] == 2000


def test_a_remittance_that_deducts_from_a_credit_note_leaves_the_deduction_disputed(
    rb: App, vendor: SpApiVendor
) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2))
    close_cycle(rb, vendor)
    remit(rb, note_of(rb, "R1"), 4000, deductions=1500)
    row = rows(rb)["R1"]
    assert (row.credited, row.pending, row.disputed) == (2500, 0, 1500)
    assert row.state is CreditState.DISPUTED


def test_a_partial_remittance_is_partially_matched(rb: App, vendor: SpApiVendor) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2))
    close_cycle(rb, vendor)
    remit(rb, note_of(rb, "R1"), 2000)
    row = rows(rb)["R1"]
    assert (row.credited, row.pending, row.state) == (2000, 2000, CreditState.PARTIALLY_MATCHED)


def test_a_remittance_taking_back_more_than_the_note_is_over_credited(
    rb: App, vendor: SpApiVendor
) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK"))
    close_cycle(rb, vendor)
    remit(rb, note_of(rb, "R1"), 2500)
    row = rows(rb)["R1"]
    assert (row.credited, row.over_credited, row.state) == (2000, 500, CreditState.OVER_CREDITED)
    assert breaches(rb) == {}  # over-credit sits beside the identity, not inside it


def test_credit_expected_follows_the_units_received_not_the_units_requested(rb: App) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=3, received=2))
    request(rb, "R1", requested=3, approved=3)
    row = rows(rb)["R1"]
    assert (row.line.expected_units, row.line.expected) == (2, 4000)
    assert row.requests == ("AMZ-RR-R1",) and row.quantity_approved == 3
    with transaction(rb.engine) as store:
        assert open_over_returns(SqlFinanceStore(store.conn), rb.clock()) == 0


def test_more_units_received_than_amazon_approved_opens_over_return_once(rb: App) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=3))
    request(rb, "R1", requested=3, approved=1)
    for expected in (1, 0):
        with transaction(rb.engine) as store:
            assert open_over_returns(SqlFinanceStore(store.conn), rb.clock()) == expected
    with rb.engine.connect() as conn:
        (message,) = conn.execute(
            select(exceptions.c.message).where(exceptions.c.code == "OVER_RETURN")
        ).scalars()
    assert "3 unit(s) received but Amazon approved 1 of 3 requested" in message
    assert "AMZ-RR-R1" in message


def test_the_money_invariant_holds_on_a_mixed_day_and_names_a_tampered_row(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    send(
        rb,
        *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2),
        *full_return("R2", "CAS-456-WHT-L", "C", "LIQUIDATE"),
    )
    close_cycle(rb, vendor)
    remit(rb, note_of(rb, "R1"), 4000)
    remit(rb, note_of(rb, "R2"), 3550, deductions=550, line_no=2)
    amazon.sandbox.reset(SandboxConfig(seed=5, reject_rate=1.0))
    send(rb, *full_return("R3", "CAS-123-BLK-M", "C", "LIQUIDATE"))
    close_cycle(rb, vendor)
    send(rb, *full_return("R4", "CAS-456-WHT-L", "A", "RESTOCK"))  # not sent yet
    states = {k: r.state for k, r in rows(rb).items()}
    assert states == {
        "R1": CreditState.MATCHED,
        "R2": CreditState.DISPUTED,
        "R3": CreditState.DISPUTED,
        "R4": CreditState.UNMATCHED,
    }
    assert breaches(rb) == {}
    figures = finance_figures(rb)
    assert figures["credits_expected"] == {"GBP": 4000 + 3550 + 2000 + 3550}
    assert figures["credited"] == {"GBP": 4000 + 3000}
    assert figures["disputed"] == {"GBP": 550 + 2000}
    assert figures["pending"] == {"GBP": 3550}
    assert figures["money_invariants_ok"] is True

    with rb.engine.begin() as conn:  # the ledger now says R4 owes two units; its message one
        first = conn.execute(select(credit_movements.c.id).order_by(credit_movements.c.id.desc()))
        conn.execute(
            update(credit_movements)
            .where(credit_movements.c.id == first.scalars().first())
            .values(quantity=2)
        )
        conn.execute(update(journal_lines).where(journal_lines.c.id == 1).values(debit=1))
    found = breaches(rb)
    assert set(found) == {Invariant.CREDITS_ACCOUNTED, Invariant.JOURNALS_BALANCED}
    assert any(
        "return R4 line 1" in d and "credit expected 7100" in d
        for d in found[Invariant.CREDITS_ACCOUNTED]
    )
    assert finance_figures(rb)["money_invariants_ok"] is False
