"""Routing: where the units of a line end up, what holds them, and what stock and books follow."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from factories import ACTIVE_COST, ACTIVE_SKU, FEE_SKU, INACTIVE_SKU, UNKNOWN_SKU, ZigZagStory

from returnbridge.domain.errors import ExceptionCode
from returnbridge.domain.events import ReturnEvent
from returnbridge.domain.journals import JournalKind, Posting
from returnbridge.domain.mappings import Mappings, Route
from returnbridge.domain.returns import CaseStatus, LineStatus
from returnbridge.domain.routing import CaseOutcome, LineOutcome, UnitBuckets

Evaluate = Callable[..., CaseOutcome]


def only_product(outcome: CaseOutcome) -> LineOutcome:
    products = [line for line in outcome.lines if line.kind == "product"]
    assert len(products) == 1
    return products[0]


def only_charge(outcome: CaseOutcome) -> LineOutcome:
    charges = [line for line in outcome.lines if line.kind == "charge"]
    assert len(charges) == 1
    return charges[0]


def codes(line: LineOutcome) -> list[ExceptionCode]:
    return [finding.code for finding in line.findings]


def postings_on(mappings: Mappings, disposition: str, amount: int) -> tuple[Posting, ...]:
    accounts = mappings.dispositions[disposition].accounts
    return (Posting(accounts.debit, amount, 0), Posting(accounts.credit, 0, amount))


# -- the happy paths ------------------------------------------------------------------------------


def test_an_a_grade_line_is_restocked_as_soon_as_it_is_graded(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    outcome = outcome_of(zz.registered(qty=2), zz.received(2), zz.graded("A", 2))
    line = only_product(outcome)
    assert line.status is LineStatus.GRADED
    assert line.route is Route.RESTOCK
    assert line.stock == 2
    assert line.units == UnitBuckets(received=2, restocked=2)
    assert line.journal is None
    assert outcome.status is CaseStatus.GRADED


def test_an_a_grade_line_closes_with_a_restock_journal_once_its_disposition_is_set(
    zz: ZigZagStory, outcome_of: Evaluate, shipped_mappings: Mappings
) -> None:
    outcome = outcome_of(
        zz.registered(qty=2), zz.received(2), zz.graded("A", 2), zz.disposed("RESTOCK", "A")
    )
    line = only_product(outcome)
    assert line.status is LineStatus.CLOSED
    assert line.stock == 2
    assert line.units == UnitBuckets(received=2, restocked=2)
    assert line.findings == ()
    assert line.journal is not None
    assert line.journal.kind is JournalKind.DISPOSITION
    assert line.journal.balanced
    assert line.journal.currency == "GBP"
    assert line.journal.postings == postings_on(shipped_mappings, "RESTOCK", 2 * ACTIVE_COST.amount)
    assert outcome.status is CaseStatus.CLOSED


@pytest.mark.parametrize(
    ("grade", "disposition", "route", "bucket"),
    [
        ("B", "REFURBISH", Route.REFURBISH, "refurbished"),
        ("C", "LIQUIDATE", Route.LIQUIDATE, "liquidated"),
        ("D", "DESTROY", Route.WRITE_OFF, "written_off"),
        ("F", "RTV", Route.RETURN_TO_VENDOR, "returned_to_vendor"),
    ],
)
def test_a_non_sellable_grade_routes_its_units_away_from_stock(
    zz: ZigZagStory,
    outcome_of: Evaluate,
    shipped_mappings: Mappings,
    grade: str,
    disposition: str,
    route: Route,
    bucket: str,
) -> None:
    graded = outcome_of(zz.registered(qty=2), zz.received(2), zz.graded(grade, 2))
    graded_line = only_product(graded)
    assert graded_line.status is LineStatus.GRADED
    assert graded_line.stock == 0
    assert graded_line.units == UnitBuckets(received=2, pending=2)

    closed = outcome_of(
        zz.registered(qty=2), zz.received(2), zz.graded(grade, 2), zz.disposed(disposition, grade)
    )
    line = only_product(closed)
    assert line.status is LineStatus.CLOSED
    assert line.route is route
    assert line.stock == 0
    assert getattr(line.units, bucket) == 2
    assert line.units.restocked == 0
    assert line.journal is not None
    assert line.journal.postings == postings_on(
        shipped_mappings, disposition, 2 * ACTIVE_COST.amount
    )


def test_a_received_but_ungraded_line_is_pending(zz: ZigZagStory, outcome_of: Evaluate) -> None:
    outcome = outcome_of(zz.registered(), zz.in_transit(), zz.received(1))
    line = only_product(outcome)
    assert line.status is LineStatus.RECEIVED
    assert line.units == UnitBuckets(received=1, pending=1)
    assert line.stock == 0
    assert outcome.status is CaseStatus.RECEIVED


def test_a_line_not_yet_received_holds_no_units(zz: ZigZagStory, outcome_of: Evaluate) -> None:
    registered = outcome_of(zz.registered())
    assert registered.status is CaseStatus.REGISTERED
    assert only_product(registered).units == UnitBuckets()

    on_its_way = outcome_of(zz.registered(), zz.in_transit())
    assert on_its_way.status is CaseStatus.IN_TRANSIT
    assert only_product(on_its_way).status is LineStatus.IN_TRANSIT


def test_a_graded_event_alone_implies_the_units_were_received(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(qty=1), zz.graded("A", 1)))
    assert line.units == UnitBuckets(received=1, restocked=1)
    assert line.stock == 1


def test_a_line_graded_before_its_sku_is_known_is_pending_not_an_exception(
    outcome_of: Evaluate,
) -> None:
    early = ZigZagStory()
    graded = early.graded("A", 1)
    line = only_product(outcome_of(graded))
    assert line.findings == ()
    assert line.status is LineStatus.RECEIVED
    assert line.units == UnitBuckets(received=1, pending=1)
    assert line.stock == 0

    registered_later = early.registered(qty=1)
    line = only_product(outcome_of(graded, registered_later))
    assert line.units == UnitBuckets(received=1, restocked=1)


def test_a_line_scanned_by_ean_is_booked_against_the_canonical_sku(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(
        outcome_of(zz.registered(sku="05012345678900"), zz.graded("A"), zz.disposed("RESTOCK"))
    )
    assert line.sku == ACTIVE_SKU
    assert line.sku_scanned == "05012345678900"
    assert line.status is LineStatus.CLOSED


# -- exceptions -----------------------------------------------------------------------------------

Story = Callable[[ZigZagStory], list[ReturnEvent]]

EXCEPTION_STORIES: dict[ExceptionCode, Story] = {
    ExceptionCode.UNKNOWN_SKU: lambda zz: [
        zz.registered(sku=UNKNOWN_SKU),
        zz.received(1),
        zz.graded("A"),
        zz.disposed("RESTOCK", "A"),
    ],
    ExceptionCode.INACTIVE_SKU: lambda zz: [
        zz.registered(sku=INACTIVE_SKU),
        zz.received(1),
        zz.graded("A"),
        zz.disposed("RESTOCK", "A"),
    ],
    ExceptionCode.UNMAPPED_REASON: lambda zz: [
        zz.registered(reason="42"),
        zz.received(1),
        zz.graded("A"),
        zz.disposed("RESTOCK", "A"),
    ],
    ExceptionCode.UNMAPPED_DISPOSITION: lambda zz: [
        zz.registered(),
        zz.received(1),
        zz.graded("A"),
        zz.disposed("DONATE", "A"),
    ],
    ExceptionCode.UNMAPPED_GRADE: lambda zz: [
        zz.registered(),
        zz.received(1),
        zz.graded("Z"),
        zz.disposed("RESTOCK", "Z"),
    ],
    ExceptionCode.GRADE_DISPOSITION_CONFLICT: lambda zz: [
        zz.registered(),
        zz.received(1),
        zz.graded("A"),
        zz.disposed("LIQUIDATE", "A"),
    ],
}


@pytest.mark.parametrize("code", list(EXCEPTION_STORIES))
def test_a_line_held_by_an_exception_keeps_its_units_in_exception_without_stock_or_journal(
    zz: ZigZagStory, outcome_of: Evaluate, code: ExceptionCode
) -> None:
    line = only_product(outcome_of(*EXCEPTION_STORIES[code](zz)))
    assert codes(line) == [code]
    assert line.status is LineStatus.EXCEPTION
    assert line.units == UnitBuckets(received=1, in_exception=1)
    assert line.stock == 0
    assert line.journal is None
    assert "return ZZR-1 line 1" in line.findings[0].message


def test_a_non_inventory_sku_cannot_be_a_returned_product(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(sku=FEE_SKU), zz.received(1), zz.graded("A")))
    assert codes(line) == [ExceptionCode.UNKNOWN_SKU]
    assert "non-inventory" in line.findings[0].message
    assert line.stock == 0


def test_receiving_more_units_than_registered_is_a_quantity_mismatch(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(qty=1), zz.received(2), zz.graded("A", 2)))
    assert codes(line) == [ExceptionCode.QUANTITY_MISMATCH]
    assert "2 received but only 1 registered" in line.findings[0].message
    assert line.units == UnitBuckets(received=2, in_exception=2)
    assert line.stock == 0


def test_grading_fewer_units_than_were_received_is_a_quantity_mismatch(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(qty=2), zz.received(2), zz.graded("A", 1)))
    assert codes(line) == [ExceptionCode.QUANTITY_MISMATCH]
    assert "2 received but 1 graded" in line.findings[0].message
    assert line.units == UnitBuckets(received=2, in_exception=2)


def test_receiving_fewer_units_than_registered_is_not_an_exception(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(qty=3), zz.received(1), zz.graded("A", 1)))
    assert line.findings == ()
    assert line.units == UnitBuckets(received=1, restocked=1)


def test_an_inactive_sku_graded_a_never_makes_stock(zz: ZigZagStory, outcome_of: Evaluate) -> None:
    line = only_product(outcome_of(zz.registered(sku=INACTIVE_SKU), zz.received(1), zz.graded("A")))
    assert codes(line) == [ExceptionCode.INACTIVE_SKU]
    assert line.stock == 0
    assert line.units.restocked == 0


def test_an_exception_found_before_receipt_holds_no_units(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(sku=UNKNOWN_SKU)))
    assert codes(line) == [ExceptionCode.UNKNOWN_SKU]
    assert line.status is LineStatus.REGISTERED
    assert line.units == UnitBuckets()


# -- charges --------------------------------------------------------------------------------------


def test_a_mapped_charge_is_journalled_on_its_accounts_and_never_becomes_stock(
    zz: ZigZagStory, outcome_of: Evaluate, shipped_mappings: Mappings
) -> None:
    outcome = outcome_of(zz.registered(), zz.charge("DAMAGED_ITEM_FEE", 320))
    charge = only_charge(outcome)
    rule = shipped_mappings.charges["DAMAGED_ITEM_FEE"]
    assert charge.line_id == "charge:CHG-1"
    assert charge.status is LineStatus.CLOSED
    assert charge.sku == rule.non_inventory_sku
    assert charge.stock == 0
    assert charge.units == UnitBuckets()
    assert charge.journal is not None
    assert charge.journal.kind is JournalKind.CHARGE
    assert charge.journal.postings == (
        Posting(rule.accounts.debit, 320, 0),
        Posting(rule.accounts.credit, 0, 320),
    )
    assert only_product(outcome).units == UnitBuckets()


def test_an_unmapped_charge_is_an_exception_without_a_journal(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    charge = only_charge(outcome_of(zz.registered(), zz.charge("LATE_HANDLING_FEE")))
    assert charge.status is LineStatus.EXCEPTION
    assert codes(charge) == [ExceptionCode.UNMAPPED_CHARGE]
    assert "'LATE_HANDLING_FEE'" in charge.findings[0].message
    assert charge.journal is None


def test_an_ignored_unmapped_charge_closes_without_a_journal(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    charge = only_charge(
        outcome_of(
            zz.registered(),
            zz.charge("LATE_HANDLING_FEE"),
            zz.override("charge:CHG-1", ignore=("UNMAPPED_CHARGE",)),
        )
    )
    assert charge.findings == ()
    assert charge.status is LineStatus.CLOSED
    assert charge.journal is None


# -- cancellation ---------------------------------------------------------------------------------


def test_a_cancelled_case_with_nothing_received_is_cancelled_without_exceptions(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    outcome = outcome_of(zz.registered(sku=UNKNOWN_SKU, reason="42"), zz.cancelled())
    assert outcome.status is CaseStatus.CANCELLED
    line = only_product(outcome)
    assert line.status is LineStatus.CANCELLED
    assert line.findings == ()
    assert line.units == UnitBuckets()


def test_a_case_cancelled_after_its_goods_arrived_still_routes_them(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    outcome = outcome_of(zz.registered(), zz.received(1), zz.cancelled(), zz.graded("A"))
    assert outcome.status is not CaseStatus.CANCELLED
    assert only_product(outcome).units == UnitBuckets(received=1, restocked=1)


# -- manual overrides -----------------------------------------------------------------------------


def test_re_mapping_the_sku_clears_unknown_sku_and_lets_the_line_close(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    events = EXCEPTION_STORIES[ExceptionCode.UNKNOWN_SKU](zz)
    line = only_product(outcome_of(*events, zz.override(sku=ACTIVE_SKU)))
    assert line.findings == ()
    assert line.sku == ACTIVE_SKU
    assert line.sku_scanned == UNKNOWN_SKU
    assert line.status is LineStatus.CLOSED
    assert line.stock == 1


def test_a_write_off_forces_the_line_to_the_write_off_accounts(
    zz: ZigZagStory, outcome_of: Evaluate, shipped_mappings: Mappings
) -> None:
    events = EXCEPTION_STORIES[ExceptionCode.INACTIVE_SKU](zz)
    line = only_product(outcome_of(*events, zz.override(write_off=True)))
    assert line.findings == ()
    assert line.route is Route.WRITE_OFF
    assert line.status is LineStatus.CLOSED
    assert line.units == UnitBuckets(received=1, written_off=1)
    assert line.stock == 0
    assert line.journal is not None
    assert line.journal.postings == postings_on(shipped_mappings, "DESTROY", 900)


def test_ignoring_an_unmapped_reason_lets_the_line_flow(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    events = EXCEPTION_STORIES[ExceptionCode.UNMAPPED_REASON](zz)
    line = only_product(outcome_of(*events, zz.override(ignore=("UNMAPPED_REASON",))))
    assert line.findings == ()
    assert line.status is LineStatus.CLOSED
    assert line.amazon_reason is None
    assert line.stock == 1


def test_accepting_the_quantity_clears_a_quantity_mismatch(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    events = [zz.registered(qty=1), zz.received(2), zz.graded("A", 2)]
    line = only_product(outcome_of(*events, zz.override(accept_quantity=True)))
    assert line.findings == ()
    assert line.units == UnitBuckets(received=2, restocked=2)


def test_ignoring_unknown_sku_does_not_waive_it_once_units_are_received(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    events = EXCEPTION_STORIES[ExceptionCode.UNKNOWN_SKU](zz)
    line = only_product(outcome_of(*events, zz.override(ignore=("UNKNOWN_SKU",))))
    assert codes(line) == [ExceptionCode.UNKNOWN_SKU]
    assert line.units == UnitBuckets(received=1, in_exception=1)


def test_ignoring_unknown_sku_before_receipt_waives_it(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(
        outcome_of(zz.registered(sku=UNKNOWN_SKU), zz.override(ignore=("UNKNOWN_SKU",)))
    )
    assert line.findings == ()


def test_an_override_alone_does_not_invent_a_product_line(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    outcome = outcome_of(zz.registered(), zz.override(line_id="9", write_off=True))
    assert [line.line_id for line in outcome.lines] == ["1"]


# -- conservation of units and case status --------------------------------------------------------


def test_unit_buckets_that_lose_a_unit_are_not_conserved() -> None:
    assert UnitBuckets(received=2, restocked=2).conserved
    assert not UnitBuckets(received=2, restocked=1).conserved
    assert not UnitBuckets(received=1, restocked=1, pending=1).conserved


@pytest.mark.parametrize(
    "story",
    [
        *EXCEPTION_STORIES.values(),
        lambda zz: [zz.registered(qty=2), zz.received(2)],
        lambda zz: [zz.registered(qty=2), zz.received(3), zz.graded("B", 3)],
        lambda zz: [
            zz.registered(qty=2),
            zz.received(2),
            zz.graded("C", 2),
            zz.disposed("LIQUIDATE"),
        ],
        lambda zz: [zz.registered(sku=UNKNOWN_SKU), zz.received(1), zz.override(write_off=True)],
        lambda zz: [zz.graded("A", 2), zz.charge()],
    ],
)
def test_the_units_of_every_line_are_always_conserved(
    zz: ZigZagStory, outcome_of: Evaluate, story: Story
) -> None:
    outcome = outcome_of(*story(zz))
    assert outcome.lines
    for line in outcome.lines:
        assert line.units.conserved, line


def test_a_case_opened_only_by_an_amazon_refund_at_first_scan_is_provisional(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    outcome = outcome_of(zz.refund_at_first_scan())
    assert outcome.status is CaseStatus.PROVISIONAL
    assert outcome.lines == ()


def test_a_case_is_as_far_along_as_its_least_advanced_line(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    one_closed = [
        zz.registered(line_id="1"),
        zz.registered(line_id="2"),
        zz.received(1, line_id="1"),
        zz.received(1, line_id="2"),
        zz.disposed("RESTOCK", "A", line_id="1"),
    ]
    assert outcome_of(*one_closed).status is CaseStatus.RECEIVED
    closing = zz.disposed("REFURBISH", "B", line_id="2")
    outcome = outcome_of(*one_closed, closing)
    assert [line.status for line in outcome.lines] == [LineStatus.CLOSED, LineStatus.CLOSED]
    assert outcome.status is CaseStatus.CLOSED


def test_a_disposition_without_a_grade_routes_its_units_away_from_stock(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(), zz.received(1), zz.disposed("LIQUIDATE")))
    assert line.status is LineStatus.CLOSED
    assert line.units == UnitBuckets(received=1, liquidated=1)
    assert line.stock == 0 and line.journal is not None


def test_a_restock_disposition_without_a_grade_waits_for_the_grade(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(), zz.received(1), zz.disposed("RESTOCK")))
    assert line.units == UnitBuckets(received=1, pending=1)
    assert line.stock == 0 and line.journal is None


def test_a_grade_without_a_count_means_the_registered_units_arrived(
    zz: ZigZagStory, outcome_of: Evaluate
) -> None:
    line = only_product(outcome_of(zz.registered(qty=2), zz.graded("A", qty=None)))
    assert line.units == UnitBuckets(received=2, restocked=2)
    assert line.stock == 2
