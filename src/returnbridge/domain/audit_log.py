"""The audit log's chain rule: each row is sealed with a hash that covers the row before it.

A row's ``hash`` is the SHA-256 (hex) of the previous row's hash followed by the canonical JSON
of the row's own fields (id, at, actor, actor_kind, action, target, before, after): keys
sorted, no spaces, UTF-8, times as UTC ISO 8601 with microseconds. The first row follows
``GENESIS``. Ids run 1, 2, 3... without gaps. So changing any field of a row breaks its hash;
recomputing that hash breaks the next row's link; deleting or reordering rows breaks the ids or
a link. Only rewriting every row from the change to the end escapes, which an ``anchor`` (a
head hash noted elsewhere earlier) catches, as it catches rows cut from the end.

Pure: the caller passes the rows, the times and the ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64
"""The ``prev_hash`` of the first row."""

JsonObject = Mapping[str, Any]


class ActorKind(StrEnum):
    TOKEN = "token"  # an API request; the actor is the token's name
    CLI = "cli"  # a command; the actor is the --actor given (default: the login name)


@dataclass(frozen=True)
class AuditEntry:
    """What happened, before it is sealed into the chain."""

    at: datetime  # timezone-aware
    actor: str
    actor_kind: ActorKind
    action: str  # e.g. exception.resolve, token.create
    target: str  # e.g. exception:6, token:2
    before: JsonObject | None
    after: JsonObject | None


@dataclass(frozen=True)
class AuditRecord:
    """A sealed row of the audit log."""

    id: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    target: str
    before: JsonObject | None
    after: JsonObject | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    """The first row where the chain does not hold, and why."""

    id: int
    reason: str


@dataclass(frozen=True)
class ChainCheck:
    rows: int
    head: str  # the last row's hash (GENESIS for an empty log)
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def _utc(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(value: Any) -> str:
    """The one JSON form the chain hashes (and the store keeps): sorted keys, no spaces."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def row_hash(
    prev_hash: str,
    id: int,
    at: datetime,
    actor: str,
    actor_kind: str,
    action: str,
    target: str,
    before: JsonObject | None,
    after: JsonObject | None,
) -> str:
    fields = {
        "id": id,
        "at": _utc(at),
        "actor": actor,
        "actor_kind": str(actor_kind),
        "action": action,
        "target": target,
        "before": before,
        "after": after,
    }
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode("utf-8")).hexdigest()


def seal(entry: AuditEntry, last_id: int, last_hash: str) -> AuditRecord:
    """The row that follows the row ``last_id`` (0 and ``GENESIS`` for the first)."""
    new_id = last_id + 1
    kind = entry.actor_kind.value
    digest = row_hash(
        last_hash,
        new_id,
        entry.at,
        entry.actor,
        kind,
        entry.action,
        entry.target,
        entry.before,
        entry.after,
    )
    return AuditRecord(
        id=new_id,
        at=entry.at,
        actor=entry.actor,
        actor_kind=kind,
        action=entry.action,
        target=entry.target,
        before=entry.before,
        after=entry.after,
        prev_hash=last_hash,
        hash=digest,
    )


def _recomputed(record: AuditRecord) -> str | None:
    try:
        return row_hash(
            record.prev_hash,
            record.id,
            record.at,
            record.actor,
            record.actor_kind,
            record.action,
            record.target,
            record.before,
            record.after,
        )
    except (TypeError, ValueError):  # a field no writer could have produced
        return None


def verify_chain(records: Iterable[AuditRecord], anchor: str | None = None) -> ChainCheck:
    """Walk the rows in id order; stop at the first that breaks the chain.

    ``anchor``, a head hash noted earlier, must still be in the chain: otherwise rows were cut
    from the end, or the chain was rewritten from some row on.
    """
    rows = 0
    last_id, last_hash = 0, GENESIS
    anchored = anchor is None
    for record in records:
        rows += 1
        if record.id != last_id + 1:
            if record.id == last_id + 2:
                why = f"row {last_id + 1} before it is missing (deleted)"
            elif record.id > last_id + 2:
                why = f"rows {last_id + 1} to {record.id - 1} before it are missing (deleted)"
            else:
                why = f"it comes after row {last_id}: rows were reordered or copied"
            return ChainCheck(rows, last_hash, ChainBreak(record.id, why))
        if record.prev_hash != last_hash:
            before = f"row {last_id}'s hash" if last_id else "the start of the chain"
            return ChainCheck(
                rows,
                last_hash,
                ChainBreak(
                    record.id,
                    f"its prev_hash does not match {before}: a row before it was changed, "
                    "removed or rewritten",
                ),
            )
        if _recomputed(record) != record.hash:
            return ChainCheck(
                rows,
                last_hash,
                ChainBreak(
                    record.id,
                    "its contents do not match its hash: the row was changed after it was written",
                ),
            )
        last_id, last_hash = record.id, record.hash
        anchored = anchored or record.hash == anchor
    if not anchored:
        return ChainCheck(
            rows,
            last_hash,
            ChainBreak(
                last_id,
                f"the anchor {anchor} is not in the chain: rows were cut from the end, or the "
                "chain was rewritten",
            ),
        )
    return ChainCheck(rows, last_hash, None)
