"""Clearing cycles: the day's stock changes reach Amazon (the sandbox) in the fewest calls."""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from pipeline_support import full_return, send, zz_event
from sqlalchemy import select
from stock_support import expected_stock, opening

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.spapi import SpApiVendor
from returnbridge.sandboxes.amazon.config import (
    SandboxConfig,
)
from returnbridge.sandboxes.amazon.server import RunningSandbox
from returnbridge.services.cycles import ClearingCycle, CycleSettings
from returnbridge.services.ports import CreditNote, InventoryPosition
from returnbridge.store.cycles import SqlCycleStore, cycle_transaction
from returnbridge.store.tables import amazon_submissions, credit_notes, exceptions, outbox
from returnbridge.testing.state import final_state


def cycle(rb: App, vendor: object, **settings: object) -> ClearingCycle:
    def stores() -> AbstractContextManager[SqlCycleStore]:
        return cycle_transaction(rb.engine)

    return ClearingCycle(stores, vendor, rb.clock, CycleSettings(**settings))  # type: ignore[arg-type]


def ledger(rb: App) -> dict[tuple[str, str], int]:
    """What Amazon should hold (snapshot + restocks since), the positions with stock."""
    return {k: v for k, v in expected_stock(rb).items() if v}


def a_day(rb: App) -> None:
    opening(rb)  # the warehouse map, and an opening snapshot of 0 for each position
    events = (
        full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2)
        + full_return("R2", "CAS-456-WHT-L", "A", "RESTOCK")
        + full_return("R3", "cas123blkm", "A", "RESTOCK")
        + full_return("R4", "CAS-456-WHT-L", "C", "LIQUIDATE")
    )
    for event in events:
        if event["returnId"] == "R3":
            event["dcWarehouse"] = "DE-DC1"
    send(rb, *events)


def test_a_cycle_sends_each_changed_position_once_as_an_absolute_quantity(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    a_day(rb)
    report = cycle(rb, vendor).close()
    # One inventory update per warehouse, and one batch of credit notes.
    assert (report.prepared, report.sent, report.succeeded) == (3, 3, 3)
    assert vendor.stats.calls - vendor.stats.retries == report.min_calls == 3
    assert (
        dict(amazon.sandbox.stock)
        == ledger(rb)
        == {
            ("AMZ-UK1", "CAS-123-BLK-M"): 2,
            ("AMZ-UK1", "CAS-456-WHT-L"): 1,
            ("AMZ-DE1", "CAS-123-BLK-M"): 1,
        }
    )
    with rb.engine.connect() as conn:
        statuses = {
            r.status
            for r in conn.execute(
                select(outbox.c.status).where(outbox.c.topic == "amazon.inventory")
            )
        }
    assert statuses == {"sent"}
    assert cycle(rb, vendor).close().prepared == 0  # nothing new: nothing sent


def test_many_skus_read_their_asins_as_a_few_do(rb: App) -> None:
    a_day(rb)
    absent = [f"CAS-NONE-{n}" for n in range(600)]  # more than one IN list
    with cycle_transaction(rb.engine) as store:
        asins = store.asins(["CAS-456-WHT-L", *absent, "CAS-123-BLK-M"])
    assert set(asins) == {"CAS-123-BLK-M", "CAS-456-WHT-L"}
    assert asins["CAS-123-BLK-M"] == "B0CAS12345"


def test_the_per_call_item_limit_sets_the_number_of_calls(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    a_day(rb)
    report = cycle(rb, vendor, items_per_call=1).close()
    assert report.min_calls == report.succeeded == 3 + 1  # three positions, one credit batch
    assert dict(amazon.sandbox.stock) == ledger(rb)


def test_an_item_amazon_rejects_becomes_amazon_rejected_on_its_lines_and_the_rest_syncs(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    amazon.sandbox.reset(SandboxConfig(seed=2, known_items=frozenset({"CAS-456-WHT-L"})))
    a_day(rb)
    first = cycle(rb, vendor).close()
    assert first.failed == 2 and first.rejected_lines == 2  # R1 and R3 are CAS-123-BLK-M
    assert amazon.sandbox.stock == {}
    second = cycle(rb, vendor).close()  # the good item goes again
    assert second.succeeded == 1
    assert dict(amazon.sandbox.stock) == {("AMZ-UK1", "CAS-456-WHT-L"): 1}
    with rb.engine.connect() as conn:
        rows = conn.execute(
            select(exceptions.c.code, exceptions.c.line_id, exceptions.c.message).where(
                exceptions.c.code == "AMAZON_REJECTED"
            )
        ).all()
    assert len(rows) == 2
    assert all("CAS-123-BLK-M" in r.message and "InvalidItem" in r.message for r in rows)


def test_a_transaction_processing_past_the_limit_becomes_amazon_stuck(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    amazon.sandbox.reset(SandboxConfig(seed=2, stuck_rate=1.0))
    a_day(rb)
    report = cycle(rb, vendor, stuck_after=timedelta(0)).close(poll_rounds=3)
    assert report.stuck == 3  # two inventory updates and the credit-note batch
    with rb.engine.connect() as conn:
        codes = [
            r.code
            for r in conn.execute(
                select(exceptions.c.code).where(exceptions.c.code == "AMAZON_STUCK")
            )
        ]
    assert len(codes) == 3 + 4  # every line behind the stock updates and the credit notes


class DiesAfterSending:
    """Sends the request, then the worker dies before it can record the transaction id."""

    def __init__(self, vendor: SpApiVendor) -> None:
        self.vendor = vendor

    def submit_inventory(self, warehouse_id: str, positions: list[InventoryPosition]) -> str:
        self.vendor.submit_inventory(warehouse_id, positions)
        raise SystemExit("killed after send, before record")


def test_a_crash_between_send_and_record_resends_the_same_absolute_quantities(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    a_day(rb)
    with pytest.raises(SystemExit):
        cycle(rb, DiesAfterSending(vendor)).close()
    report = cycle(rb, vendor).close()  # the restarted worker
    assert report.prepared == 0 and report.sent == 3 and report.succeeded == 3
    assert dict(amazon.sandbox.stock) == ledger(rb)
    accepted = amazon.sandbox.counters["submitInventoryUpdate"].accepted
    assert accepted == 3  # one resent: harmless, the quantities are absolute


def test_a_rejected_line_reprocessed_is_sent_again_and_syncs(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    from returnbridge.services.exceptions import Action, Resolution, resolve

    amazon.sandbox.reset(SandboxConfig(seed=2, known_items=frozenset({"CAS-456-WHT-L"})))
    a_day(rb)
    cycle(rb, vendor).close()
    cycle(rb, vendor).close()
    # The item was set up in Vendor Central (a reset also forgets the sandbox's stock).
    amazon.sandbox.reset(SandboxConfig(seed=2))
    with rb.stores() as store:
        rejected = store.list_exceptions("open", "AMAZON_REJECTED", 10)
    with pytest.raises(Exception, match="Vendor Central"):
        resolve(rb.stores, rejected[0].id, Resolution(Action.WRITE_OFF, "ops"), rb.processor)
    for record in rejected:
        closed = resolve(rb.stores, record.id, Resolution(Action.REPROCESS, "ops"), rb.processor)
        assert closed.status == "resolved"
    report = cycle(rb, vendor).close()
    assert report.succeeded == 2  # both warehouses' CAS-123-BLK-M, sent again
    resent = {k: v for k, v in ledger(rb).items() if k[1] == "CAS-123-BLK-M"}
    assert (
        dict(amazon.sandbox.stock)
        == resent
        == {("AMZ-UK1", "CAS-123-BLK-M"): 2, ("AMZ-DE1", "CAS-123-BLK-M"): 1}
    )


def test_a_rejected_line_can_be_ignored_with_a_reason_though_it_holds_units(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    from returnbridge.services.exceptions import Action, Resolution, resolve

    amazon.sandbox.reset(SandboxConfig(seed=2, known_items=frozenset({"CAS-456-WHT-L"})))
    a_day(rb)
    cycle(rb, vendor).close()
    with rb.stores() as store:
        record = store.list_exceptions("open", "AMAZON_REJECTED", 1)[0]
    assert record.units_received > 0
    closed = resolve(
        rb.stores,
        record.id,
        Resolution(Action.IGNORE, "ops", note="not sold on Amazon any more"),
        rb.processor,
    )
    assert (closed.status, closed.resolution) == ("ignored", "ignore")
    assert [a["action"] for a in closed.actions] == ["ignore"]


# ----------------------------------------------------------------------------- credit notes
def credits_at_amazon(amazon: RunningSandbox) -> dict[str, tuple[str, int]]:
    """Per credit note Amazon holds: its return reference and its total in minor units."""
    held = {}
    for number, note in amazon.sandbox.credit_notes.items():
        references = {i["creditNoteDetails"]["returnsReferenceNumber"] for i in note["items"]}
        assert len(references) == 1
        total = round(float(note["invoiceTotal"]["amount"]) * 100)
        held[number] = (references.pop(), total)
    return held


def credits_owed(rb: App) -> dict[str, int]:
    """Per return, what the ledger says the brand owes Amazon in credit (minor units)."""
    owed: dict[str, int] = {}
    with rb.engine.connect() as conn:
        for key, quantity in final_state(conn)["credits"].items():
            case, _line, position = key.split("/")
            unit = int(position.split("@")[1][:-3])
            owed[case.removeprefix("zz:")] = owed.get(case.removeprefix("zz:"), 0) + quantity * unit
    return owed


def by_reference(held: dict[str, tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for reference, total in held.values():
        out[reference] = out.get(reference, 0) + total
    return out


def test_every_closed_return_is_credited_once_in_one_batch(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    a_day(rb)
    cycle(rb, vendor).close()
    held = credits_at_amazon(amazon)
    assert len(held) == 4  # one note per return
    assert (
        by_reference(held) == credits_owed(rb) == {"R1": 4000, "R2": 3550, "R3": 2000, "R4": 3550}
    )
    assert amazon.sandbox.counters["submitInvoices"].accepted == 1
    assert cycle(rb, vendor).close().prepared == 0
    assert amazon.sandbox.duplicate_credit_notes == 0


def test_the_per_call_invoice_limit_sets_the_number_of_credit_note_calls(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    a_day(rb)
    report = cycle(rb, vendor, invoices_per_call=3).close()
    assert report.min_calls == report.succeeded == 2 + 2  # two warehouses, ceil(4 / 3) batches
    assert len(amazon.sandbox.credit_notes) == 4


class DiesAfterSendingCredits:
    """Stock goes through; the credit notes reach Amazon, then the worker dies unrecorded."""

    def __init__(self, vendor: SpApiVendor) -> None:
        self.vendor = vendor

    def submit_inventory(self, warehouse_id: str, positions: list[InventoryPosition]) -> str:
        return self.vendor.submit_inventory(warehouse_id, positions)

    def submit_credit_notes(self, notes: list[CreditNote]) -> str:
        self.vendor.submit_credit_notes(notes)
        raise SystemExit("killed after send, before record")


def test_credit_notes_resent_after_a_lost_answer_are_credited_once(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    a_day(rb)
    with pytest.raises(SystemExit):
        cycle(rb, DiesAfterSendingCredits(vendor)).close()
    report = cycle(rb, vendor).close()  # the restarted worker sends the same numbers again
    assert amazon.sandbox.duplicate_credit_notes == 4  # Amazon refused the second copies...
    assert (report.failed, report.already_held, report.rejected_items) == (1, 4, 0)
    assert by_reference(credits_at_amazon(amazon)) == credits_owed(rb)  # ...and kept the first
    with rb.engine.connect() as conn:
        statuses = {
            r.status
            for r in conn.execute(
                select(outbox.c.status).where(outbox.c.topic == "amazon.credit_note")
            )
        }
        rejected = conn.execute(
            select(exceptions.c.id).where(exceptions.c.code == "AMAZON_REJECTED")
        ).all()
    assert statuses == {"sent"} and rejected == []


def test_a_rejected_credit_note_opens_amazon_rejected_and_the_others_go_again_unchanged(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    amazon.sandbox.reset(SandboxConfig(seed=5, reject_rate=0.5))
    a_day(rb)
    first = cycle(rb, vendor, items_per_call=1).close()
    rejected_notes = {r for kind, r in amazon.sandbox.rejected_records() if kind == "invoice"}
    assert 0 < len(rejected_notes) < 4  # the seed rejects some notes, not all
    assert amazon.sandbox.credit_notes == {}  # a failed transaction applies nothing
    numbers_first = {n["number"] for s in _credit_submissions(rb) for n in s}
    for _ in range(3):
        cycle(rb, vendor, items_per_call=1).close()
    held = credits_at_amazon(amazon)
    assert set(held) | rejected_notes == numbers_first  # the others went again, same numbers
    assert not set(held) & rejected_notes
    with rb.engine.connect() as conn:
        messages = conn.execute(
            select(exceptions.c.message).where(exceptions.c.code == "AMAZON_REJECTED")
        ).all()
    credit_messages = [m.message for m in messages if "credit note" in m.message]
    assert len(credit_messages) == len(rejected_notes)
    assert all("Rejected" in m for m in credit_messages)
    assert {n for n in rejected_notes if any(n in m for m in credit_messages)} == rejected_notes
    assert first.rejected_items >= len(rejected_notes)
    # Numbered once, gapless, in the order of the returns; a note sent again is the same
    # document: the same number, date and items.
    assert sorted(numbers_first) == [f"RBCN-{n:06d}" for n in range(1, len(numbers_first) + 1)]
    sent: dict[str, set[str]] = {}
    for notes in _credit_submissions(rb):
        for note in notes:
            sent.setdefault(note["number"], set()).add(json.dumps(note, sort_keys=True))
    assert all(len(copies) == 1 for copies in sent.values())
    assert len(_credit_submissions(rb)) > 1  # sent more than once: the resends compared


def test_a_rejected_credit_note_ignored_is_voided_and_its_line_goes_in_a_new_note_later(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    from returnbridge.services.exceptions import Action, Resolution, resolve

    amazon.sandbox.reset(SandboxConfig(seed=5, reject_rate=0.5))
    a_day(rb)
    cycle(rb, vendor).close()
    with rb.stores() as store:
        rejected = [
            r
            for r in store.list_exceptions("open", "AMAZON_REJECTED", 20)
            if "credit note" in r.message
        ]
    first, *others = rejected
    number = json.loads(first.raw)["document"]
    resolve(
        rb.stores,
        first.id,
        Resolution(Action.IGNORE, "finance", note="agreed with Amazon: no credit"),
        rb.processor,
    )
    with rb.engine.connect() as conn:
        voided = conn.execute(
            select(
                credit_notes.c.status, credit_notes.c.void_reason, credit_notes.c.voided_by
            ).where(credit_notes.c.number == number)
        ).one()
    assert tuple(voided) == ("voided", "agreed with Amazon: no credit", "finance")
    amazon.sandbox.reset(SandboxConfig(seed=5))  # Amazon takes every note from now on
    for record in others:  # the same note's other lines, or other notes, sent again
        resolve(rb.stores, record.id, Resolution(Action.REPROCESS, "finance"), rb.processor)
    cycle(rb, vendor).close()
    assert number not in amazon.sandbox.credit_notes  # a voided number is never used again
    with rb.engine.connect() as conn:
        numbers = [r.number for r in conn.execute(select(credit_notes.c.number))]
    sequences = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert sequences == list(range(1, len(numbers) + 1))  # still no gap


def _credit_submissions(rb: App) -> list[list[dict]]:  # type: ignore[type-arg]
    with rb.engine.connect() as conn:
        rows = conn.execute(
            select(amazon_submissions.c.body).where(
                amazon_submissions.c.operation == "credit_notes"
            )
        ).all()
    return [json.loads(r.body)["notes"] for r in rows]


def _recount(rb: App, return_id: str, quantity: int, minute: int) -> None:
    lines = [{"lineId": "1", "sku": "CAS-123-BLK-M", "quantity": quantity}]
    send(
        rb,
        zz_event(
            f"{return_id}-recount-{minute}", "return.received", return_id, minute, lines=lines
        ),
    )


def test_corrections_before_the_cut_off_are_netted_into_one_credit(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=3))
    _recount(rb, "R1", 1, 800)  # +3 then -2 before any cycle: Amazon is owed 1 unit
    cycle(rb, vendor).close()
    (note,) = amazon.sandbox.credit_notes.values()
    assert [i["invoicedQuantity"]["amount"] for i in note["items"]] == [1]
    assert note["invoiceTotal"]["amount"] == "20.00"


def test_a_correction_after_the_credit_went_out_opens_credit_overstated(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2))
    cycle(rb, vendor).close()
    _recount(rb, "R1", 1, 800)  # Amazon holds credit for 2; the return now owes 1
    report = cycle(rb, vendor).close()
    assert report.overstated == 1
    assert len(amazon.sandbox.credit_notes) == 1  # nothing sent: a credit note cannot debit
    with rb.engine.connect() as conn:
        (record,) = conn.execute(
            select(exceptions.c.message).where(exceptions.c.code == "CREDIT_OVERSTATED")
        ).all()
        statuses = sorted(
            r.status
            for r in conn.execute(
                select(outbox.c.status).where(outbox.c.topic == "amazon.credit_note")
            )
        )
    assert "1 unit(s) of CAS-123-BLK-M on return R1" in record.message
    assert statuses == ["overstated", "sent"]
    # Ops learn the recount was wrong; ZigZag corrects it back: the return owes 2 again, which
    # Amazon already holds, so nothing is sent and the exception closes by itself.
    _recount(rb, "R1", 2, 900)
    assert cycle(rb, vendor).close().overstated == 0
    assert by_reference(credits_at_amazon(amazon)) == credits_owed(rb) == {"R1": 4000}
    with rb.engine.connect() as conn:
        (status,) = conn.execute(
            select(exceptions.c.status).where(exceptions.c.code == "CREDIT_OVERSTATED")
        ).one()
    assert status == "resolved"


def test_an_overstated_credit_agreed_with_amazon_no_longer_offsets_later_credit(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    from returnbridge.services.exceptions import Action, Resolution, resolve

    send(rb, *full_return("R1", "CAS-123-BLK-M", "A", "RESTOCK", qty=2))
    cycle(rb, vendor).close()
    _recount(rb, "R1", 1, 800)
    cycle(rb, vendor).close()
    with rb.stores() as store:
        (record,) = store.list_exceptions("open", "CREDIT_OVERSTATED", 10)
    resolve(
        rb.stores, record.id, Resolution(Action.IGNORE, "finance", note="debit DN-1"), rb.processor
    )
    _recount(rb, "R1", 2, 900)  # the return owes 2 again; Amazon holds 2 - 1 debited = 1
    cycle(rb, vendor).close()
    assert len(amazon.sandbox.credit_notes) == 2
    assert by_reference(credits_at_amazon(amazon)) == {"R1": 6000}  # 4000 - 2000 debit + 2000


class SlowSends:
    """The vendor, with each submission taking 0.1 s more, and the order calls came back."""

    def __init__(self, vendor: SpApiVendor) -> None:
        self.vendor = vendor
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.vendor, name)
        if name not in ("submit_inventory", "submit_credit_notes", "inventory_status",
                        "credit_note_status"):  # fmt: skip
            return attr

        def call(*args: object) -> object:
            if name.startswith("submit"):
                time.sleep(0.1)
            result = attr(*args)
            self.calls.append("send" if name.startswith("submit") else "poll")
            return result

        return call


def test_a_cycle_that_pauses_between_polls_confirms_while_it_still_sends(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    a_day(rb)
    slow = SlowSends(vendor)
    report = cycle(rb, slow, items_per_call=1, invoices_per_call=1).close(
        pause=time.sleep, pause_seconds=0.02
    )
    sends = [i for i, call in enumerate(slow.calls) if call == "send"]
    assert len(sends) == report.prepared == report.sent >= 5
    assert slow.calls.index("poll") < sends[-1]  # polled before the last submission went
    assert report.succeeded == report.sent and report.processing == 0
    assert vendor.stats.calls - vendor.stats.retries == report.min_calls == report.sent
    assert dict(amazon.sandbox.stock) == ledger(rb)
    with rb.engine.connect() as conn:
        statuses = set(
            conn.execute(select(outbox.c.status).where(outbox.c.topic.like("amazon.%"))).scalars()
        )
        closed = conn.execute(select(amazon_submissions.c.status)).scalars().all()
    assert statuses == {"sent"} and set(closed) == {"success"}


class SlowCreditNotes:
    """The vendor, with each credit-note submission taking 0.15 s more, and the order the
    submissions came back in."""

    def __init__(self, vendor: SpApiVendor) -> None:
        self.vendor = vendor
        self.sent: list[str] = []

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.vendor, name)
        if name not in ("submit_inventory", "submit_credit_notes"):
            return attr

        def call(*args: object) -> object:
            if name == "submit_credit_notes":
                time.sleep(0.15)
            result = attr(*args)
            self.sent.append(name)
            return result

        return call


def test_inventory_updates_do_not_wait_behind_credit_notes(
    rb: App, amazon: RunningSandbox, vendor: SpApiVendor
) -> None:
    """Each operation has its own sender: the inventory updates go out while the first credit
    notes are still on their way (taking turns, each would wait for a credit note's answer)."""
    a_day(rb)
    slow = SlowCreditNotes(vendor)
    report = cycle(rb, slow, items_per_call=1, invoices_per_call=1).close(
        pause=time.sleep, pause_seconds=0.02
    )
    inventory = [i for i, name in enumerate(slow.sent) if name == "submit_inventory"]
    credits = [i for i, name in enumerate(slow.sent) if name == "submit_credit_notes"]
    assert len(inventory) >= 2 and len(credits) >= 2
    assert inventory[-1] < credits[1]
    assert report.sent == report.prepared == len(slow.sent)
    assert report.succeeded == report.sent and report.processing == 0
    assert dict(amazon.sandbox.stock) == ledger(rb)
