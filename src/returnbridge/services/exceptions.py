"""Resolving exceptions: re-map and reprocess, write off, or ignore with a reason.

A decision on a return line is recorded as a ``manual.override`` event in the inbox, so it is
durable, replayable and applied by the same pipeline as every partner fact; the exception
closes when the line no longer has the problem. Every action is also written to the
append-only action log with who and when, and to the hash-chained audit log with the
exception as it stood before and after the decision, in the decision's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from returnbridge.domain.audit_log import ActorKind, AuditEntry
from returnbridge.domain.codec import event_from_dict, event_to_dict
from returnbridge.domain.errors import (
    ExceptionActionRefused,
    ExceptionCode,
    InvalidEvent,
    NotFound,
)
from returnbridge.domain.events import EventType, Override, ReturnEvent
from returnbridge.domain.routing import CHARGE_PREFIX, WAIVABLE
from returnbridge.services.pipeline import Processor
from returnbridge.services.ports import Clock, ExceptionRecord, InboxRecord, Store, StoreFactory
from returnbridge.services.stock_sync import HOLD_CODES, RELEASED

MANUAL_SOURCE = "manual"
AMAZON_CODES = frozenset(
    {ExceptionCode.AMAZON_REJECTED, ExceptionCode.AMAZON_STUCK, ExceptionCode.CREDIT_OVERSTATED}
)
# Stock positions held before they reach Amazon (services/stock_sync.py): about a warehouse or
# a position, not a return line. They close by themselves when the cause is gone; a held drop
# goes when a person releases it.
STOCK_HOLD_CODES = frozenset(HOLD_CODES)


class Action(StrEnum):
    REPROCESS = "reprocess"
    WRITE_OFF = "write-off"
    IGNORE = "ignore"
    RELEASE = "release"  # a held stock drop: send it to Amazon at the next clearing cycle


@dataclass(frozen=True)
class Resolution:
    """What a person asked for."""

    action: Action
    actor: str
    note: str = ""
    sku: str | None = None
    reason: str | None = None
    disposition: str | None = None
    actor_kind: ActorKind = ActorKind.CLI  # a command (actor: --actor) or an API token


def decode_manual(source: str, event_id: str, payload: str) -> ReturnEvent:
    """The inbox decoder for decisions people took (stored in returnbridge's own form)."""
    try:
        event = event_from_dict(json.loads(payload))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidEvent(f"manual event cannot be read: {exc!r}") from exc
    if event.type is not EventType.MANUAL_OVERRIDE or event.override is None:
        raise InvalidEvent("a manual event must be a manual.override")
    return event


def _refuse_if_unfit(record: ExceptionRecord, request: Resolution) -> None:
    if record.status != "open":
        raise ExceptionActionRefused(
            f"exception {record.id} is {record.status} already ({record.resolution} by "
            f"{record.resolved_by})"
        )
    if not request.actor.strip():
        raise ExceptionActionRefused("say who is acting (--actor)")
    if request.action is Action.IGNORE and not request.note.strip():
        raise ExceptionActionRefused("ignoring an exception needs a reason (--note)")
    if record.code in STOCK_HOLD_CODES:
        _refuse_unfit_stock_hold(record, request)
        return
    if request.action is Action.RELEASE:
        raise ExceptionActionRefused(
            f"release is for a held stock drop (STOCK_DROP_HELD), not {record.code}"
        )
    if record.code == ExceptionCode.OVER_RETURN and request.action is not Action.IGNORE:
        raise ExceptionActionRefused(
            f"exception {record.id}: the units are booked as received; have ZigZag correct a "
            "miscount (the credit follows), or agree the extra units with Amazon and ignore "
            "this exception with a note"
        )
    if record.code == ExceptionCode.RFS_NOT_RECEIVED and request.action is not Action.IGNORE:
        raise ExceptionActionRefused(
            f"exception {record.id} closes by itself when the goods reach the warehouse; if "
            "they never will (lost, customer kept them), ignore it with a note saying what "
            "was done (e.g. the SAFE-T claim reference)"
        )
    if record.code in AMAZON_CODES:
        # The books are right; only Amazon's copy of the stock is wrong.
        if (
            request.action is Action.WRITE_OFF
            or request.sku
            or request.reason
            or request.disposition
        ):
            raise ExceptionActionRefused(
                f"{record.code} is about Amazon's copy of the stock, not the return: fix the "
                "item in Vendor Central, then reprocess (it is sent again in the next cycle), "
                "or ignore it with a reason"
            )
        return
    if record.line_id is None:
        if request.action is Action.WRITE_OFF:
            raise ExceptionActionRefused(
                f"exception {record.id} ({record.code}) is about an unreadable event, not a "
                "return line: reprocess it once the sender fixed it, or ignore it with a reason"
            )
        if request.sku or request.reason or request.disposition:
            raise ExceptionActionRefused("an unreadable event has no line to re-map")
        return
    if record.line_id.startswith(CHARGE_PREFIX) and (
        request.action is Action.WRITE_OFF or request.sku or request.reason or request.disposition
    ):
        raise ExceptionActionRefused(
            "a charge holds no units to write off or re-map: add its charge type to the "
            "mappings file and reprocess, or ignore it with a reason"
        )
    if (
        request.action is Action.WRITE_OFF
        and record.code == ExceptionCode.UNKNOWN_SKU
        and not request.sku
    ):
        raise ExceptionActionRefused(
            "an unknown product has no cost to write down: give --sku with the product that "
            "came back, so the write-off is valued"
        )
    if (
        request.action is Action.IGNORE
        and record.code not in WAIVABLE
        and record.code != ExceptionCode.OVER_RETURN  # the units are booked; only Amazon differs
        and record.units_received > 0
    ):
        raise ExceptionActionRefused(
            f"{record.code} cannot be ignored while the line holds {record.units_received} "
            "received unit(s): nothing could book them. Re-map the line (reprocess with --sku, "
            "--reason or --disposition, or after loading a corrected catalog or mappings "
            "file), or write it off"
        )


def _refuse_unfit_stock_hold(record: ExceptionRecord, request: Resolution) -> None:
    """A held drop is released or ignored; the other holds clear by themselves (ignoring one
    only closes it until the next cycle finds the same cause)."""
    if record.code == ExceptionCode.STOCK_DROP_HELD:
        if request.action in (Action.RELEASE, Action.IGNORE):
            return
        raise ExceptionActionRefused(
            f"exception {record.id}: check the quantity against the WMS, then release it (it "
            "goes to Amazon at the next clearing cycle) or ignore it with a note (the position "
            "stays held)"
        )
    if request.action is Action.IGNORE:
        return
    fix = {
        ExceptionCode.STOCK_SNAPSHOT_MISSING: "import a stock snapshot that lists these "
        "positions (returnbridge import stock FILE)",
        ExceptionCode.STOCK_SNAPSHOT_STALE: "import a fresh stock snapshot (returnbridge "
        "import stock FILE)",
        ExceptionCode.UNMAPPED_WAREHOUSE: "map the DC to its Amazon warehouse in the "
        "warehouses file (returnbridge warehouses load FILE)",
    }[ExceptionCode(record.code)]
    raise ExceptionActionRefused(
        f"exception {record.id} ({record.code}) closes by itself at the next clearing cycle "
        f"once you {fix}"
    )


def _resolve_amazon(
    store: Store, record: ExceptionRecord, request: Resolution, now: datetime
) -> None:
    """Amazon refused (or never confirmed) a stock update or a credit note: the books are right,
    Amazon's view is not. Reprocess sends the line's position, or its credit note under the same
    number, again in the next cycle; ignore accepts the difference."""
    if request.action is Action.REPROCESS:
        store.release_amazon_messages(record.case_key or "", record.line_id or "")
        store.close_exception(
            record.id,
            "resolved",
            now,
            request.actor,
            "reprocess",
            request.note or "sent again in the next clearing cycle",
        )
    else:
        note = _credit_note_of(record)
        if note is not None and record.code == ExceptionCode.AMAZON_REJECTED:
            # Amazon refused the note and it will not be sent: its number stays in the series,
            # voided with the reason (docs/finance.md); the line's credit goes in a new note if
            # it is ever sent again.
            store.void_credit_note(note, request.note, request.actor, now)
        if record.code == ExceptionCode.CREDIT_OVERSTATED:
            # Agreed with Amazon (a debit): the excess no longer offsets later credit.
            store.settle_overstated_credit(record.case_key or "", record.line_id or "", now)
        store.close_exception(record.id, "ignored", now, request.actor, "ignore", request.note)


def _credit_note_of(record: ExceptionRecord) -> str | None:
    """The credit-note number an Amazon exception is about, if it is about one."""
    try:
        raw = json.loads(record.raw)
    except ValueError:
        return None
    document = raw.get("document") if isinstance(raw, dict) else None
    return document if isinstance(document, str) else None


def _about_an_event(record: ExceptionRecord) -> bool:
    """An exception about an inbound event (not a return line, a stock position or a DC)."""
    return record.line_id is None and record.code not in AMAZON_CODES | STOCK_HOLD_CODES


def _refuse_unreadable_reprocess(store: Store, record: ExceptionRecord) -> None:
    """A CSV row kept as exported is not an event anything can read again."""
    row = store.inbox_row(record.inbox_id) if record.inbox_id is not None else None
    try:
        readable = row is not None and isinstance(json.loads(row.payload), dict)
    except ValueError:
        readable = False
    if not readable:
        raise ExceptionActionRefused(
            f"exception {record.id} holds the raw input as it arrived, which cannot be read as "
            "an event: have the sender correct it and import the corrected file, then ignore "
            "this exception with a note"
        )


def offered_actions(store: Store, record: ExceptionRecord) -> tuple[Action, ...]:
    """The actions a screen may offer on ``record`` as it stands: those that pass the checks
    ``request_resolution`` makes, given a note and no re-map (re-mapping a line is for the
    command line and the API). Who may act is the caller's check (``domain/auth.py``)."""
    offered = []
    for action in Action:
        probe = Resolution(action=action, actor="probe", note="probe")
        try:
            _refuse_if_unfit(record, probe)
            if _about_an_event(record) and action is Action.REPROCESS:
                _refuse_unreadable_reprocess(store, record)
        except ExceptionActionRefused:
            continue
        offered.append(action)
    return tuple(offered)


def exception_view(record: ExceptionRecord) -> dict[str, Any]:
    """An exception's state as the audit log keeps it (not its raw input)."""
    return {
        "id": record.id,
        "code": record.code,
        "status": record.status,
        "return": record.return_id or record.case_key,
        "line_id": record.line_id,
        "units_received": record.units_received,
        "resolution": record.resolution,
        "resolved_by": record.resolved_by,
        "resolved_at": record.resolved_at.isoformat() if record.resolved_at else None,
        "resolution_note": record.resolution_note,
    }


def request_resolution(
    store: Store, exception_id: int, request: Resolution, clock: Clock
) -> ExceptionRecord:
    """Record the decision and its audit row (in the caller's transaction); the pipeline then
    applies it. Refused decisions raise before anything is written."""
    record = store.exception(exception_id)
    if record is None:
        raise NotFound(f"no exception {exception_id}")
    _refuse_if_unfit(record, request)
    if _about_an_event(record) and request.action is Action.REPROCESS:
        _refuse_unreadable_reprocess(store, record)
    now = clock()
    detail = {
        k: v
        for k, v in (
            ("sku", request.sku),
            ("reason", request.reason),
            ("disposition", request.disposition),
        )
        if v
    }
    store.add_exception_action(
        record.id, request.action.value, request.actor, now, request.note, detail
    )
    queued = _decide(store, record, request, now)
    after = store.exception(record.id)
    assert after is not None
    decision = {"action": request.action.value, "note": request.note, **detail}
    store.append_audit(
        AuditEntry(
            at=now,
            actor=request.actor,
            actor_kind=request.actor_kind,
            action="exception.resolve",
            target=f"exception:{record.id}",
            before=exception_view(record),
            # A line's decision is applied by the pipeline when it processes the queued event;
            # until then the exception stays open (``exceptions show`` tells how it ended).
            after={**exception_view(after), "decision": decision, "queued_event": queued},
        )
    )
    return record


def _decide(
    store: Store, record: ExceptionRecord, request: Resolution, now: datetime
) -> str | None:
    """Close the exception, or queue the decision for the pipeline; returns the queued event."""
    if record.code in AMAZON_CODES:
        _resolve_amazon(store, record, request, now)
        return None
    if record.code in STOCK_HOLD_CODES:
        if request.action is Action.RELEASE:
            note = request.note or "released: sent at the next clearing cycle"
            store.close_exception(record.id, "resolved", now, request.actor, RELEASED, note)
        else:
            store.close_exception(record.id, "ignored", now, request.actor, "ignore", request.note)
        return None
    if record.code == ExceptionCode.OVER_RETURN:  # only ignore gets here (_refuse_if_unfit)
        store.close_exception(record.id, "ignored", now, request.actor, "ignore", request.note)
        return None
    if record.line_id is None:
        if request.action is Action.IGNORE:
            store.close_exception(record.id, "ignored", now, request.actor, "ignore", request.note)
        elif record.inbox_id is not None:
            store.requeue_inbox(record.inbox_id)
            store.close_exception(
                record.id,
                "resolved",
                now,
                request.actor,
                "reprocess",
                request.note or "requeued for processing",
            )
        return None
    case_key = record.case_key or ""
    is_order = case_key.startswith("order:")
    override = Override(
        line_id=record.line_id,
        actor=request.actor,
        action=request.action.value,
        note=request.note,
        sku=request.sku,
        reason=request.reason,
        disposition=request.disposition,
        write_off=request.action is Action.WRITE_OFF,
        accept_quantity=(
            request.action is Action.IGNORE and record.code == ExceptionCode.QUANTITY_MISMATCH
        ),
        ignore=(record.code,) if request.action is Action.IGNORE else (),
    )
    event = ReturnEvent(
        source=MANUAL_SOURCE,
        event_id=f"exception-{record.id}-action-{len(record.actions) + 1}",
        type=EventType.MANUAL_OVERRIDE,
        occurred_at=now,
        return_id=None if is_order else record.return_id,
        order_ref=case_key[len("order:") :] if is_order else None,
        override=override,
    )
    store.add_to_inbox(
        [
            InboxRecord(
                MANUAL_SOURCE,
                event.event_id,
                event.type.value,
                json.dumps(event_to_dict(event)),
                case_key,
            )
        ],
        now,
    )
    return f"{MANUAL_SOURCE}/{event.event_id}"


def resolve(
    stores: StoreFactory, exception_id: int, request: Resolution, processor: Processor
) -> ExceptionRecord:
    """Record a decision, apply it through the pipeline, and return the exception as it ends."""
    with stores() as store:
        request_resolution(store, exception_id, request, processor.clock)
    processor.drain()
    with stores() as store:
        record = store.exception(exception_id)
    assert record is not None
    return record
