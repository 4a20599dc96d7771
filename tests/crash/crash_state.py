"""The final state of a crash-harness run, keyed by natural keys, and the differences of two.

Ids and times differ between two runs of the same day (which worker created a case first,
when a batch committed), so every id is replaced by what it stands for: a case by its key,
an entry, movement or message key by the case key it starts with, an inbox row by its source
and event id. What is left must be equal between a run with crashes and faults and a
fault-free run of the same seed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from returnbridge.sandboxes.amazon.state import AmazonSandbox
from returnbridge.sandboxes.erp.app import ErpSandbox
from returnbridge.store.tables import (
    credit_movements,
    exceptions,
    inbox,
    journal_entries,
    journal_lines,
    outbox,
    return_cases,
    return_lines,
    stock_movements,
)
from returnbridge.testing.state import final_state

REVERSAL = re.compile(r"(reversal of )(\S+):")


class Naming:
    """Turns a run's ids into natural keys."""

    def __init__(self, conn: Connection) -> None:
        self.cases = {
            int(r.id): r.case_key
            for r in conn.execute(select(return_cases.c.id, return_cases.c.case_key))
        }
        self.events = {
            int(r.id): f"{r.source}/{r.event_id}"
            for r in conn.execute(select(inbox.c.id, inbox.c.source, inbox.c.event_id))
        }

    def case(self, case_id: Any) -> str:
        return "-" if case_id is None else self.cases.get(int(case_id), f"?case{case_id}")

    def key(self, raw: str) -> str:
        """``<case id>/<line>/<n>`` (optionally after a ``topic/`` prefix) -> by case key."""
        prefix, sep, rest = raw.partition("/") if not raw[:1].isdigit() else ("", "", raw)
        case_id, _, tail = rest.partition("/")
        if not case_id.isdigit():
            return raw
        named = f"{self.case(case_id)}/{tail}"
        return f"{prefix}{sep}{named}"

    def memo(self, value: str) -> str:
        """A reversal's memo names the entry it reverses by its raw key."""
        return REVERSAL.sub(lambda m: f"{m[1]}{self.key(m[2])}:", value)


def _journals(conn: Connection, names: Naming) -> dict[str, Any]:
    postings: dict[int, list[tuple[str, int, int]]] = {}
    for r in conn.execute(
        select(journal_lines.c.entry_id, journal_lines.c.account, journal_lines.c.debit,
               journal_lines.c.credit)
    ):  # fmt: skip
        postings.setdefault(int(r.entry_id), []).append((r.account, int(r.debit), int(r.credit)))
    rows = list(conn.execute(select(journal_entries)))
    raw_key = {int(r.id): r.entry_key for r in rows}
    entries = {}
    for r in rows:
        reverses = raw_key.get(int(r.reverses_id)) if r.reverses_id is not None else None
        entries[names.key(r.entry_key)] = {
            "kind": r.kind,
            "currency": r.currency,
            "reverses": names.key(reverses) if reverses else None,
            "memo": names.memo(r.memo),
            "postings": sorted(postings.get(int(r.id), [])),
        }
    return entries


def _movements(conn: Connection, names: Naming, table: Any, *columns: str) -> dict[str, Any]:
    return {
        names.key(r.movement_key): {c: getattr(r, c) for c in columns}
        for r in conn.execute(select(table))
    }


def _payload(raw: str, names: Naming) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(raw)
    if "case" in payload:
        payload["case"] = names.case(payload["case"])
    for field in ("movement_key", "entry_key", "reverses"):
        if isinstance(payload.get(field), str):
            payload[field] = names.key(payload[field])
    if isinstance(payload.get("memo"), str):
        payload["memo"] = names.memo(payload["memo"])
    return payload


def _outbox(conn: Connection, names: Naming) -> dict[str, Any]:
    return {
        names.key(r.message_key): {
            "topic": r.topic,
            "status": r.status,
            "payload": _payload(r.payload, names),
        }
        for r in conn.execute(select(outbox.c.topic, outbox.c.message_key, outbox.c.status,
                                     outbox.c.payload))
    }  # fmt: skip


def _exceptions(conn: Connection, names: Naming) -> list[str]:
    found = Counter(
        f"{r.code} {names.case(r.case_id)} line {r.line_id or '-'} "
        f"event {names.events.get(r.inbox_id, '-') if r.inbox_id else '-'}: {r.status}"
        for r in conn.execute(
            select(exceptions.c.code, exceptions.c.case_id, exceptions.c.line_id,
                   exceptions.c.inbox_id, exceptions.c.status)
        )
    )  # fmt: skip
    return sorted(f"{k} x{n}" if n > 1 else k for k, n in found.items())


def _credit_note(note: dict[str, Any]) -> tuple[str, str]:
    """A credit note as Amazon holds it, less its number and date (ours differ by run)."""
    body = {k: v for k, v in note.items() if k not in ("id", "date")}
    reference = note["items"][0]["creditNoteDetails"]["returnsReferenceNumber"]
    return reference, json.dumps(body, sort_keys=True)


def _erp_lines(erp: ErpSandbox, names: Naming) -> list[str]:
    lines: Counter[str] = Counter()
    with erp.lock:
        bodies = list(erp.accepted.values())
    for body in bodies:
        for line in [*body["lines"], *body.get("stock_adjustments", [])]:
            row = {k: v for k, v in line.items() if k != "batch"}
            for field in ("journal_id", "reverses"):
                if isinstance(row.get(field), str) and row[field]:
                    row[field] = names.key(row[field])
            if row.get("case") not in (None, ""):
                row["case"] = names.case(row["case"])
            if isinstance(row.get("memo"), str):
                row["memo"] = names.memo(row["memo"])
            lines[json.dumps(row, sort_keys=True)] += 1
    return sorted(f"{k} x{n}" if n > 1 else k for k, n in lines.items())


def snapshot(
    engine: Engine, amazon: AmazonSandbox | None, erp: ErpSandbox | None
) -> dict[str, Any]:
    """Everything the two runs must agree on, by natural keys."""
    with engine.connect() as conn:
        names = Naming(conn)
        journals = _journals(conn, names)
        ledger = {
            f"{r.warehouse}/{r.sku}": int(r.net)
            for r in conn.execute(
                select(stock_movements.c.warehouse, stock_movements.c.sku,
                       func.sum(stock_movements.c.quantity).label("net"))
                .group_by(stock_movements.c.warehouse, stock_movements.c.sku)
            )
            if int(r.net)
        }  # fmt: skip
        state: dict[str, Any] = {
            "stock ledger": ledger,
            "stock movements": _movements(
                conn, names, stock_movements, "warehouse", "sku", "quantity"
            ),
            "journal entries": journals,
            "credit movements": _movements(
                conn, names, credit_movements, "sku", "quantity", "unit_amount", "currency"
            ),
            "outbox": _outbox(conn, names),
            "exceptions": _exceptions(conn, names),
            "inbox": dict(
                (r.status, int(r.n))
                for r in conn.execute(
                    select(inbox.c.status, func.count().label("n")).group_by(inbox.c.status)
                )
            ),
            "lines": {
                f"{names.case(r.case_id)}/{r.line_id}": r.status
                for r in conn.execute(
                    select(return_lines.c.case_id, return_lines.c.line_id, return_lines.c.status)
                )
            },
            "final state": final_state(conn),
        }
    if amazon is not None:
        held = amazon.snapshot()  # the sandbox's own view, as GET /_sandbox/state serves it
        state["amazon stock"] = {
            f"{p['warehouseId']}/{p['identifier']}": p["availableQuantity"]
            for p in held["stock"]
            if p["availableQuantity"]
        }
        notes = [_credit_note(note) for note in held["credit_notes"].values()]
        state["amazon credit notes"] = sorted(f"{ref}: {body}" for ref, body in notes)
    if erp is not None:
        state["erp lines"] = _erp_lines(erp, names)
    return state


def differences(expected: dict[str, Any], got: dict[str, Any], per_section: int = 5) -> list[str]:
    """What differs, section by section, in words (at most ``per_section`` items each)."""
    found: list[str] = []
    for section in sorted(set(expected) | set(got)):
        a, b = expected.get(section), got.get(section)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            if section == "final state":
                found += differences(a, b, per_section)
                continue
            items = [f"{k}: missing" for k in sorted(set(a) - set(b), key=str)]
            items += [f"{k}: unexpected {b[k]!r}" for k in sorted(set(b) - set(a), key=str)]
            items += [
                f"{k}: {a[k]!r} != {b[k]!r}"
                for k in sorted(set(a) & set(b), key=str)
                if a[k] != b[k]
            ]
        elif isinstance(a, list) and isinstance(b, list):
            gone, extra = Counter(a) - Counter(b), Counter(b) - Counter(a)
            items = [f"missing {k}" for k in sorted(gone)] + [
                f"unexpected {k}" for k in sorted(extra)
            ]
        else:
            items = [f"{a!r} != {b!r}"]
        shown = "; ".join(items[:per_section])
        more = f" (and {len(items) - per_section} more)" if len(items) > per_section else ""
        found.append(f"{section}: {len(items)} difference(s): {shown}{more}")
    return found
