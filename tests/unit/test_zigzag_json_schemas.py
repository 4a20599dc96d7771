"""The shipped JSON Schemas of ZigZag's events: generated from the wire model, and they agree
with it on real examples and on broken ones."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from returnbridge.connectors.zigzag.json_schemas import (
    EVENT_TYPES,
    SCHEMA_DIR,
    event_schema,
    schema_text,
    shipped_schema,
)
from returnbridge.connectors.zigzag.wire import parse_wire
from returnbridge.domain.errors import InvalidEvent

DOCS = Path(__file__).parents[2] / "docs" / "zigzag-events.md"
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _aware_date_time(value: object) -> bool:
    # jsonschema's own date-time check needs an extra package; this one is what pydantic wants.
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def validator(event_type: str) -> Draft202012Validator:
    schema = shipped_schema(event_type)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


def doc_examples() -> dict[str, dict[str, Any]]:
    """The JSON examples of docs/zigzag-events.md, by event type."""
    blocks = DOCS.read_text(encoding="utf-8").split("```json\n")[1:]
    events = [json.loads(block.split("```")[0]) for block in blocks]
    return {e["type"]: e for e in events if e.get("type") in EVENT_TYPES}


def test_one_schema_per_event_type_ships_exactly_as_generated() -> None:
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.json")) == sorted(
        f"{t}.json" for t in EVENT_TYPES
    )
    for event_type in EVENT_TYPES:
        shipped = (SCHEMA_DIR / f"{event_type}.json").read_text(encoding="utf-8")
        assert shipped == schema_text(event_type), (
            f"{event_type}.json is stale: run python -m returnbridge.connectors.zigzag.json_schemas"
        )


def test_every_documented_example_passes_its_schema_and_only_its_own() -> None:
    examples = doc_examples()
    assert sorted(examples) == sorted(EVENT_TYPES)
    for event_type, event in examples.items():
        assert list(validator(event_type).iter_errors(event)) == []
        parse_wire(json.dumps(event))
        for other in EVENT_TYPES:
            if other != event_type:
                assert not validator(other).is_valid(event)


def _without(event: dict[str, Any], *path: str | int) -> dict[str, Any]:
    broken = json.loads(json.dumps(event))
    node = broken
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return broken


def _with(event: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    broken = json.loads(json.dumps(event))
    node = broken
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return broken


BROKEN = [
    ("return.registered", lambda e: _without(e, "lines", 0, "sku")),
    ("return.registered", lambda e: _without(e, "lines", 1, "quantity")),
    ("return.registered", lambda e: _with(e, [], "lines")),
    ("return.registered", lambda e: _without(e, "returnId")),
    ("return.received", lambda e: _without(e, "dcWarehouse")),
    ("return.received", lambda e: _with(e, None, "dcWarehouse")),
    ("return.received", lambda e: _without(e, "lines", 0, "quantity")),
    ("return.received", lambda e: _with(e, 0, "lines", 0, "quantity")),
    ("return.received", lambda e: _with(e, "1", "lines", 0, "quantity")),
    ("return.received", lambda e: _without(e, "lines")),
    ("return.graded", lambda e: _without(e, "lines", 0, "grade")),
    ("return.graded", lambda e: _with(e, "   ", "lines", 0, "grade")),
    ("return.disposition_set", lambda e: _without(e, "lines", 1, "disposition")),
    ("return.disposition_set", lambda e: _without(e, "dcWarehouse")),
    ("charge.created", lambda e: _without(e, "charge")),
    ("charge.created", lambda e: _with(e, "5.875", "charge", "amount")),
    ("charge.created", lambda e: _with(e, "gbp", "charge", "currency")),
    ("return.cancelled", lambda e: _with(e, "2026-11-02T09:30:00", "occurredAt")),
    ("return.cancelled", lambda e: _with(e, "return.canceled", "type")),
    ("return.cancelled", lambda e: _with(e, "", "id")),
    ("return.in_transit", lambda e: _with(e, "x" * 101, "returnId")),
]


@pytest.mark.parametrize(("event_type", "breaking"), BROKEN)
def test_a_broken_event_fails_its_schema_as_it_fails_the_wire_model(
    event_type: str, breaking: Any
) -> None:
    broken = breaking(doc_examples()[event_type])
    assert not validator(event_type).is_valid(broken)
    with pytest.raises(InvalidEvent):
        parse_wire(json.dumps(broken))


def test_an_unknown_event_type_has_no_schema() -> None:
    with pytest.raises(ValueError, match="unknown ZigZag event type"):
        event_schema("return.lost")
