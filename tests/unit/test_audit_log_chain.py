"""The audit log's chain rule: any change to any field of any row, a deleted row, rows out of
order, or rows cut from the end (against an anchor) are all found, and named."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from returnbridge.domain.audit_log import (
    GENESIS,
    ActorKind,
    AuditEntry,
    AuditRecord,
    seal,
    verify_chain,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
entries = st.builds(
    AuditEntry,
    at=times,
    actor=st.text(min_size=1, max_size=12),
    actor_kind=st.sampled_from(ActorKind),
    action=st.sampled_from(["exception.resolve", "token.create", "token.revoke"]),
    target=st.text(max_size=12),
    before=st.none() | json_objects,
    after=st.none() | json_objects,
)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": st.integers(-5, 50),
    "at": times,
    "actor": st.text(max_size=12),
    "actor_kind": st.sampled_from(["token", "cli", "system"]),
    "action": st.text(max_size=12),
    "target": st.text(max_size=12),
    "before": st.none() | json_objects,
    "after": st.none() | json_objects,
    "prev_hash": st.text("0123456789abcdef", min_size=64, max_size=64),
    "hash": st.text("0123456789abcdef", min_size=64, max_size=64),
}


def chain_of(items: list[AuditEntry]) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for entry in items:
        last = records[-1] if records else None
        records.append(seal(entry, last.id if last else 0, last.hash if last else GENESIS))
    return records


@settings(max_examples=50, deadline=None)
@given(st.lists(entries, max_size=5))
def test_a_chain_as_written_verifies_and_its_head_is_the_last_hash(items: list[AuditEntry]) -> None:
    records = chain_of(items)
    check = verify_chain(records)
    assert check.intact and check.rows == len(items)
    assert check.head == (records[-1].hash if records else GENESIS)
    assert [r.id for r in records] == list(range(1, len(items) + 1))
    if records:
        assert verify_chain(records, anchor=records[len(records) // 2].hash).intact


@settings(max_examples=150, deadline=None)
@given(st.lists(entries, min_size=1, max_size=5), st.data())
def test_any_single_field_change_of_any_row_is_found_at_that_row(
    items: list[AuditEntry], data: st.DataObject
) -> None:
    records = chain_of(items)
    index = data.draw(st.integers(0, len(records) - 1))
    name = data.draw(st.sampled_from(sorted(FIELD_VALUES)))
    value = data.draw(FIELD_VALUES[name])
    assume(value != getattr(records[index], name))
    tampered = [*records]
    tampered[index] = dataclasses.replace(records[index], **{name: value})
    check = verify_chain(tampered)
    assert check.broken is not None
    assert check.broken.id == value if name == "id" else check.broken.id == records[index].id


@settings(max_examples=50, deadline=None)
@given(st.lists(entries, min_size=2, max_size=5), st.data())
def test_a_deleted_row_is_found_and_rows_cut_from_the_end_are_found_by_the_anchor(
    items: list[AuditEntry], data: st.DataObject
) -> None:
    records = chain_of(items)
    index = data.draw(st.integers(0, len(records) - 2))
    check = verify_chain(records[:index] + records[index + 1 :])
    assert check.broken is not None and check.broken.id == records[index + 1].id
    assert "missing" in check.broken.reason
    cut = records[:-1]
    assert verify_chain(cut).intact  # the chain alone cannot see its end is gone ...
    anchored = verify_chain(cut, anchor=records[-1].hash)
    assert anchored.broken is not None and "anchor" in anchored.broken.reason  # ... an anchor can


@settings(max_examples=50, deadline=None)
@given(st.lists(entries, min_size=2, max_size=5), st.data())
def test_rows_out_of_order_are_found(items: list[AuditEntry], data: st.DataObject) -> None:
    records = chain_of(items)
    order = data.draw(st.permutations(range(len(records))))
    assume(order != sorted(order))
    assert not verify_chain([records[i] for i in order]).intact


def test_the_whole_chain_rewritten_from_a_row_on_is_found_only_by_an_anchor() -> None:
    t0 = datetime(2026, 11, 3, tzinfo=UTC)
    items = [
        AuditEntry(t0 + timedelta(seconds=n), "ana", ActorKind.CLI, "a", f"t{n}", None, {"n": n})
        for n in range(4)
    ]
    records = chain_of(items)
    forged = chain_of([*items[:2], dataclasses.replace(items[2], actor="mallory"), items[3]])
    assert verify_chain(forged).intact
    check = verify_chain(forged, anchor=records[-1].hash)
    assert check.broken is not None and check.broken.id == 4


def test_a_time_without_a_zone_cannot_be_sealed() -> None:
    entry = AuditEntry(datetime(2026, 11, 3), "ana", ActorKind.CLI, "a", "t", None, None)
    with pytest.raises(ValueError, match="timezone-aware"):
        seal(entry, 0, GENESIS)
