"""Property: any delivery order of a valid stream, with any events repeated, reaches the same
final state as the ordered stream, through the real store (SQLite)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_support import CATALOG, Clock

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import Settings
from returnbridge.masterdata.mappings_toml import DEFAULT_MAPPINGS
from returnbridge.sandboxes.zigzag.generator import generate_day, write_catalog
from returnbridge.services.pipeline import ingest
from returnbridge.services.ports import InboxRecord
from returnbridge.store.migrate import upgrade
from returnbridge.testing.state import final_state

DAYS = {seed: generate_day(6, seed) for seed in range(4)}


SKUS = ["CAS-123-BLK-M", "cas123blkm", "5012345678900", "CAS-789-RED-S", "mystery"]
GRADES = [
    ("A", "RESTOCK"),
    ("B", "REFURBISH"),
    ("C", "LIQUIDATE"),
    ("D", "DESTROY"),
    ("A", "LIQUIDATE"),
    ("E", "DONATE"),
]


@st.composite
def conflicting_stream(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    """Returns whose facts disagree over time: regrades, corrected quantities, late
    registrations, cancellations, equal timestamps. The latest fact must win, whatever order
    the events arrive in."""
    events: list[tuple[str, dict[str, Any]]] = []
    for r in range(draw(st.integers(1, 3))):
        rid = f"R{r}"
        head = {"returnId": rid, "dcWarehouse": "UK-DC1", "retailerCode": "CASTORE"}
        for n in range(draw(st.integers(1, 6))):
            kind = draw(
                st.sampled_from(
                    [
                        "return.registered",
                        "return.received",
                        "return.graded",
                        "return.disposition_set",
                        "return.cancelled",
                    ]
                )
            )
            minute = draw(st.integers(0, 5))  # few distinct times: ties are common
            line: dict[str, Any] = {"lineId": "1"}
            if kind == "return.registered":
                line.update(
                    sku=draw(st.sampled_from(SKUS)),
                    quantity=draw(st.integers(1, 3)),
                    returnReasonId=draw(st.sampled_from([1, 3, 42])),
                )
            elif kind == "return.received":
                line.update(sku=draw(st.sampled_from(SKUS)), quantity=draw(st.integers(1, 3)))
            elif kind == "return.graded":
                line.update(grade=draw(st.sampled_from(GRADES))[0])
            elif kind == "return.disposition_set":
                grade, disposition = draw(st.sampled_from(GRADES))
                line.update(grade=grade, disposition=disposition)
            event = {
                "id": f"{rid}-{n}",
                "type": kind,
                "occurredAt": f"2026-11-02T10:0{minute}:00+00:00",
                **head,
            }
            if kind != "return.cancelled":
                event["lines"] = [line]
            events.append(("zigzag", event))
    return events


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), stream=conflicting_stream())
def test_conflicting_facts_settle_the_same_way_in_any_order(
    tmp_path: Path, data: st.DataObject, stream: list[tuple[str, dict[str, Any]]]
) -> None:
    shuffled = data.draw(st.permutations(stream), label="delivery order")
    repeats = data.draw(st.lists(st.sampled_from(stream), max_size=4), label="repeats")
    expected = _run(tmp_path, None, "ordered", stream, 200)
    assert _run(tmp_path, None, "delivered", [*shuffled, *repeats], 1) == expected


def _stream(seed: int) -> list[tuple[str, dict[str, Any]]]:
    """The day's distinct valid events, in the order they happened."""
    day = DAYS[seed]
    unique = {e["id"]: e for e in day.events}
    events = [("zigzag", e) for e in unique.values()] + [("amazon", r) for r in day.refunds]
    return sorted(
        events, key=lambda item: (item[1].get("occurredAt") or item[1]["refundedAt"], item[1]["id"])
    )


def _template(tmp: Path, seed: int | None) -> Path:
    path = tmp / f"template-{seed}.db"
    if not path.exists():
        rb = bootstrap(Settings(database_url=f"sqlite:///{path}"), clock=Clock())
        upgrade(rb.engine)
        catalog = tmp / f"catalog-{seed}.csv"
        if seed is None:
            catalog.write_text(CATALOG, encoding="utf-8")
        else:
            write_catalog(DAYS[seed], catalog)
        rb.load_catalog(catalog)
        rb.load_mappings(DEFAULT_MAPPINGS)
        rb.close()
    return path


def _run(
    tmp: Path, seed: int | None, name: str, stream: list[tuple[str, dict[str, Any]]], batch: int
) -> dict[str, Any]:
    db = tmp / f"{name}.db"
    shutil.copyfile(_template(tmp, seed), db)
    rb: App = bootstrap(Settings(database_url=f"sqlite:///{db}", batch_size=batch), clock=Clock())
    try:
        for source, event in stream:
            record = InboxRecord(source, event["id"], event["type"], json.dumps(event))
            with rb.stores() as store:
                ingest(store, [record], rb.clock())
        rb.processor.drain()
        with rb.engine.connect() as conn:
            return final_state(conn)
    finally:
        rb.close()
        db.unlink()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), seed=st.sampled_from(sorted(DAYS)), batch=st.sampled_from([1, 7, 200]))
def test_any_order_with_any_repeats_reaches_the_ordered_state(
    tmp_path: Path, data: st.DataObject, seed: int, batch: int
) -> None:
    ordered = _stream(seed)
    shuffled = data.draw(st.permutations(ordered), label="delivery order")
    repeats = data.draw(st.lists(st.sampled_from(ordered), max_size=10), label="repeats")
    positions = data.draw(
        st.lists(st.integers(0, len(shuffled)), min_size=len(repeats), max_size=len(repeats)),
        label="where repeats land",
    )
    delivered = list(shuffled)
    for event, at in zip(repeats, positions, strict=True):
        delivered.insert(at, event)
    expected = _run(tmp_path, seed, "ordered", ordered, 200)
    assert expected["lines"], "the stream must produce lines for the property to mean anything"
    assert _run(tmp_path, seed, "delivered", delivered, batch) == expected
