"""JSON Schemas of ZigZag's events, one per event type, generated from the wire model.

The shipped files (``schemas/<type>.json`` next to this module) are what ``event_schema``
generates; a test keeps them equal. Each schema is self-contained (no ``$ref``) and states the
rules of its type that ``WireEvent`` checks in code: the ``type`` constant, which line fields a
type needs, ``dcWarehouse`` at the warehouse, the charge of a ``charge.created``. Two rules stay
in code only, as JSON Schema cannot say them: a ``lineId`` is unique within its event, and a
``quantity`` must be written as a whole number (``1``, not ``1.0``).

Regenerate the files after changing ``wire.py``:
``python -m returnbridge.connectors.zigzag.json_schemas``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, get_args

from returnbridge.connectors.zigzag.wire import _AT_WAREHOUSE, _NEEDS, EventName, WireEvent

EVENT_TYPES: tuple[str, ...] = get_args(EventName)
SCHEMA_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``$ref`` replaced by its definition and pydantic's titles dropped."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    out = {
        key: _inline(value, defs)
        for key, value in node.items()
        if key != "$defs" and not (key == "title" and isinstance(value, str))
    }
    if out.get("type") == "string" and out.get("minLength", 0) >= 1 and "pattern" not in out:
        # Every such field is stripped before its length is checked: blanks alone are empty.
        out["pattern"] = r"\S"
    return out


def _required(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema without its ``null`` branch and its ``null`` default."""
    branches = [b for b in schema.get("anyOf", [schema]) if b != {"type": "null"}]
    (only,) = branches
    return {k: v for k, v in only.items() if k != "default"}


def _base() -> dict[str, Any]:
    model = WireEvent.model_json_schema()
    return dict(_inline(model, model.get("$defs", {})))


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event type (e.g. ``return.received``); ``ValueError`` if unknown."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown ZigZag event type {event_type!r}; known: {EVENT_TYPES}")
    body = copy.deepcopy(_base())
    props: dict[str, Any] = body["properties"]
    required: list[str] = list(body["required"])
    props["type"] = {"const": event_type}
    needs = _NEEDS.get(event_type)
    if needs is not None:
        lines = props["lines"]
        lines["minItems"] = 1
        line = lines["items"]
        for field in needs:
            line["properties"][field] = _required(line["properties"][field])
        line["required"] = [*line["required"], *needs]
        required.append("lines")
    if event_type in _AT_WAREHOUSE:
        props["dcWarehouse"] = _required(props["dcWarehouse"])
        required.append("dcWarehouse")
    if event_type == "charge.created":
        props["charge"] = _required(props["charge"])
        required.append("charge")
    return {
        "$schema": DIALECT,
        "title": f"ZigZag {event_type} event",
        "description": (
            f"A {event_type} event as returnbridge reads it (docs/zigzag-events.md). Unknown "
            "fields are ignored. Also checked, in code only: each lineId is unique within "
            "the event, and quantity is written as a whole number."
        ),
        "type": "object",
        "properties": props,
        "required": required,
    }


def any_event_schema() -> dict[str, Any]:
    """One schema for every event type (the webhook's request body): exactly one type fits."""
    branches = []
    for event_type in EVENT_TYPES:
        schema = event_schema(event_type)
        del schema["$schema"]
        branches.append(schema)
    return {"oneOf": branches}


def schema_text(event_type: str) -> str:
    """The shipped file's text for ``event_type``."""
    return json.dumps(event_schema(event_type), indent=2, ensure_ascii=False) + "\n"


def shipped_schema(event_type: str) -> dict[str, Any]:
    """The schema file shipped in the package for ``event_type``."""
    data: dict[str, Any] = json.loads(
        (SCHEMA_DIR / f"{event_type}.json").read_text(encoding="utf-8")
    )
    return data


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """(Re)write one ``<type>.json`` per event type into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in EVENT_TYPES:
        path = directory / f"{event_type}.json"
        path.write_text(schema_text(event_type), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas():
        print(path.name)
