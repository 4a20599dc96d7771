"""ZigZag events as inbox records: one shape whatever the transport (CSV export, webhook, polling).

An event read from any transport is stored with the same key, type, case key and payload text
(the canonical JSON of its parsed ``WireEvent``), so the same event met twice, by two transports,
is a duplicate and never a second event.
"""

from __future__ import annotations

import hashlib
import json

from returnbridge.connectors.zigzag.wire import SOURCE, WireEvent
from returnbridge.services.ports import InboxRecord

MAX_KEY = 150  # room for the "#unreadable-<digest>" suffix in the inbox's 200-character key


def canonical_payload(wire: WireEvent) -> str:
    """The JSON text stored for an event: the parsed fields only, keys sorted, nulls left out."""
    return json.dumps(wire.model_dump(mode="json", exclude_none=True), sort_keys=True)


def inbox_record(wire: WireEvent) -> InboxRecord:
    """The inbox record of a readable event, keyed by its ``id`` and filed under its return."""
    return InboxRecord(
        source=SOURCE,
        event_id=wire.id,
        event_type=wire.type,
        payload=canonical_payload(wire),
        case_key=f"zz:{wire.returnId}",
    )


def storable(text: str) -> str:
    """``text`` as both databases can hold it: NUL and lone surrogates written as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def canonical_json(data: object) -> str:
    """JSON text of any parsed value, keys sorted, no spaces: one text per value, however sent."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def unreadable_record(
    key: str, raw: str, event_type: str | None, reason: str, *, digest_of: str | None = None
) -> InboxRecord:
    """The inbox record of an event that cannot be read: kept raw, with the reason.

    Keyed by ``key`` (the event's id where it can be read) plus a digest of the raw text (or of
    ``digest_of``, e.g. the ``canonical_json`` of a JSON body), as the CSV reader does: the same
    bad delivery again is a duplicate, not a second exception, while a corrected event under
    the same id is still accepted as new. The raw text is kept as it came, but for characters
    no database column can hold (see ``storable``).
    """
    digested = raw if digest_of is None else digest_of
    digest = hashlib.sha256(digested.encode("utf-8", "backslashreplace")).hexdigest()[:16]
    return InboxRecord(
        source=SOURCE,
        event_id=f"{storable(key)[:MAX_KEY]}#unreadable-{digest}",
        event_type=storable(event_type or "unreadable"),
        payload=storable(raw),
        invalid_reason=storable(reason),
    )
