"""Any delivery order, with any duplicates, reaches the same outcome; events survive their codec."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from typing import Any, TypeVar

from factories import ACTIVE_SKU, DAY_START, FEE_SKU, INACTIVE_SKU, UNKNOWN_SKU
from hypothesis import given, settings
from hypothesis import strategies as st

from returnbridge.domain.catalog import Catalog
from returnbridge.domain.codec import event_from_dict, event_to_dict
from returnbridge.domain.events import (
    ChargeFact,
    EventType,
    LineFact,
    Override,
    RefundFact,
    ReturnEvent,
)
from returnbridge.domain.mappings import Mappings
from returnbridge.domain.money import Money
from returnbridge.domain.returns import fold_case
from returnbridge.domain.routing import CaseOutcome, evaluate_case

T = TypeVar("T")
Draw = Callable[[st.SearchStrategy[T]], T]

SCANNED = (
    ACTIVE_SKU,
    "cas_123_blk_m",
    "05012345678900",
    "b0cas123bk",
    INACTIVE_SKU,
    UNKNOWN_SKU,
    FEE_SKU,
)
REASONS = ("1", "3", "8", "42")
GRADES = ("A", "A", "B", "C", "D", "F", "Z")
DISPOSITION_OF_GRADE = {
    "A": "RESTOCK",
    "B": "REFURBISH",
    "C": "LIQUIDATE",
    "D": "DESTROY",
    "F": "RTV",
    "Z": "DESTROY",
}
DECISIONS: tuple[dict[str, Any], ...] = (
    {"sku": ACTIVE_SKU},
    {"write_off": True},
    {"ignore": ("UNMAPPED_REASON",)},
    {"ignore": ("UNKNOWN_SKU",)},
    {"accept_quantity": True},
    {"disposition": "RESTOCK"},
)


@st.composite
def one_return(draw: Draw[Any], number: int) -> list[ReturnEvent]:
    """A realistic life of one return: as far as it got, with the odd surprise on the way."""
    return_id = f"ZZR-{number}"
    ids = count(1)
    clock = [DAY_START + timedelta(hours=number)]

    def event(kind: EventType, source: str = "zigzag", **fields: Any) -> ReturnEvent:
        # Gaps of zero minutes give events of one return the same occurred_at.
        clock[0] += timedelta(minutes=draw(st.integers(0, 2)))
        return ReturnEvent(
            source, f"{return_id}-{next(ids)}", kind, clock[0], return_id=return_id, **fields
        )

    line_ids = [str(n) for n in range(1, draw(st.integers(1, 2)) + 1)]
    expected = {line_id: draw(st.integers(1, 3)) for line_id in line_ids}
    at_warehouse = {"warehouse": draw(st.sampled_from(("UK-DC1", "DE-DC1")))}
    events = [
        event(
            EventType.REGISTERED,
            retailer_code="CASTORE",
            lines=tuple(
                LineFact(
                    line_id,
                    sku=draw(st.sampled_from(SCANNED)),
                    quantity=expected[line_id],
                    reason=draw(st.sampled_from(REASONS)),
                )
                for line_id in line_ids
            ),
        )
    ]
    stage = draw(st.integers(0, 5))
    if draw(st.integers(0, 9)) == 0:
        events.append(event(EventType.CANCELLED))
    if stage >= 1:
        events.append(event(EventType.IN_TRANSIT))
    received = {
        line_id: qty + draw(st.sampled_from((0, 0, 0, 1))) for line_id, qty in expected.items()
    }
    if stage >= 2:
        lines = tuple(LineFact(line_id, quantity=qty) for line_id, qty in received.items())
        events.append(event(EventType.RECEIVED, lines=lines, **at_warehouse))
    grades = {line_id: draw(st.sampled_from(GRADES)) for line_id in line_ids}
    if stage >= 3:
        for _ in range(draw(st.integers(1, 2))):  # sometimes graded twice
            grades = {line_id: draw(st.sampled_from(GRADES)) for line_id in line_ids}
            lines = tuple(
                LineFact(
                    line_id,
                    grade=grade,
                    quantity=max(1, received[line_id] - draw(st.sampled_from((0, 0, 0, 0, 1)))),
                )
                for line_id, grade in grades.items()
            )
            events.append(event(EventType.GRADED, lines=lines, **at_warehouse))
    if stage >= 4:
        lines = tuple(
            LineFact(
                line_id,
                grade=grade,
                disposition=draw(
                    st.sampled_from((DISPOSITION_OF_GRADE[grade],) * 4 + ("DONATE", "LIQUIDATE"))
                ),
            )
            for line_id, grade in grades.items()
        )
        events.append(event(EventType.DISPOSITION_SET, lines=lines, **at_warehouse))
    if stage >= 5:
        charge = ChargeFact(
            f"CHG-{number}",
            draw(st.sampled_from(("DAMAGED_ITEM_FEE", "DAMAGED_ITEM_FEE", "LATE_HANDLING_FEE"))),
            Money(draw(st.integers(150, 650)), "GBP"),
            FEE_SKU,
        )
        events.append(event(EventType.CHARGE_CREATED, charge=charge))
    for decision in draw(st.lists(st.sampled_from(DECISIONS), max_size=2)):
        override = Override(draw(st.sampled_from(line_ids)), "ops@example.com", **decision)
        events.append(event(EventType.MANUAL_OVERRIDE, source="manual", override=override))
    return events


@st.composite
def deliveries(draw: Draw[Any]) -> tuple[list[ReturnEvent], list[ReturnEvent]]:
    """The events of a few returns in life-cycle order, and as delivered: shuffled, some twice."""
    events = [e for n in range(1, draw(st.integers(1, 3)) + 1) for e in draw(one_return(n))]
    again = draw(st.lists(st.sampled_from(events), max_size=len(events)))
    return events, draw(st.permutations(events + again))


def outcomes(
    events: Iterable[ReturnEvent], catalog: Catalog, mappings: Mappings
) -> dict[str, CaseOutcome]:
    by_case: dict[str, list[ReturnEvent]] = defaultdict(list)
    for event in events:
        by_case[event.case_key].append(event)
    return {
        key: evaluate_case(fold_case(key, case_events), catalog, mappings)
        for key, case_events in by_case.items()
    }


@settings(max_examples=200, deadline=None)
@given(streams=deliveries())
def test_any_delivery_order_with_duplicates_reaches_the_same_outcome(
    streams: tuple[list[ReturnEvent], list[ReturnEvent]],
    catalog: Catalog,
    shipped_mappings: Mappings,
) -> None:
    in_order, delivered = streams
    expected = outcomes(in_order, catalog, shipped_mappings)
    assert outcomes(delivered, catalog, shipped_mappings) == expected
    for outcome in expected.values():
        for line in outcome.lines:
            assert line.units.conserved, line
            assert line.journal is None or line.journal.balanced, line
            assert line.stock in (0, line.units.received), line


def test_a_later_fact_wins_however_late_it_is_delivered(
    catalog: Catalog, shipped_mappings: Mappings
) -> None:
    """The property above is not vacuous: the same events at other times give another outcome."""

    def graded(event_id: str, grade: str, minute: int) -> ReturnEvent:
        return ReturnEvent(
            "zigzag",
            event_id,
            EventType.GRADED,
            DAY_START + timedelta(minutes=minute),
            return_id="ZZR-1",
            lines=(LineFact("1", sku=ACTIVE_SKU, quantity=1, grade=grade),),
        )

    first_a_then_b = [graded("e1", "A", 1), graded("e2", "B", 2)]
    first_b_then_a = [graded("e1", "A", 2), graded("e2", "B", 1)]
    for delivered in (first_a_then_b, first_a_then_b[::-1]):
        (outcome,) = outcomes(delivered, catalog, shipped_mappings).values()
        assert outcome.lines[0].grade == "B"
    (outcome,) = outcomes(first_b_then_a, catalog, shipped_mappings).values()
    assert outcome.lines[0].grade == "A"


# -- the codec ------------------------------------------------------------------------------------

texts = st.text(max_size=12)
maybe_text = st.none() | texts
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5, minutes=30))]
    ),
)
money = st.builds(Money, st.integers(-(10**12), 10**12), st.sampled_from(("GBP", "EUR", "USD")))
events = st.builds(
    ReturnEvent,
    source=texts,
    event_id=texts,
    type=st.sampled_from(EventType),
    occurred_at=moments,
    return_id=maybe_text,
    order_ref=maybe_text,
    retailer_code=maybe_text,
    order_number=maybe_text,
    warehouse=maybe_text,
    rma_id=maybe_text,
    lines=st.lists(
        st.builds(
            LineFact,
            line_id=texts,
            sku=maybe_text,
            quantity=st.none() | st.integers(0, 10_000),
            reason=maybe_text,
            grade=maybe_text,
            disposition=maybe_text,
        ),
        max_size=3,
    ).map(tuple),
    charge=st.none() | st.builds(ChargeFact, texts, texts, money, maybe_text),
    refund=st.none() | st.builds(RefundFact, texts, texts, st.integers(0, 100), money, moments),
    override=st.none()
    | st.builds(
        Override,
        line_id=texts,
        actor=texts,
        action=texts,
        note=texts,
        sku=maybe_text,
        reason=maybe_text,
        disposition=maybe_text,
        write_off=st.booleans(),
        accept_quantity=st.booleans(),
        ignore=st.lists(texts, max_size=3).map(tuple),
    ),
)


@settings(max_examples=200, deadline=None)
@given(event=events)
def test_an_event_survives_its_stored_form(event: ReturnEvent) -> None:
    stored = json.loads(json.dumps(event_to_dict(event)))
    assert event_from_dict(event_to_dict(event)) == event
    back = event_from_dict(stored)
    assert back == event
    assert back.occurred_at.utcoffset() == event.occurred_at.utcoffset()
    if event.refund is not None:
        assert back.refund is not None
        assert back.refund.refunded_at.utcoffset() == event.refund.refunded_at.utcoffset()
