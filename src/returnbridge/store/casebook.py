"""A batch's unit of work: the cases it touches, held in memory, written when it commits.

Applying an event reads its case (events, lines, stock, credit, journals, open exceptions) and
writes what changed: a dozen statements per event when each goes to the database. A
``CaseBook`` loads the state of a batch's cases with one statement per table, keeps it in
memory, updated as each event is applied, and writes the batch's rows with one statement per
table when the transaction ends (an executemany on SQLite, ``COPY`` on PostgreSQL). The
outcome is the rows a one-at-a-time run writes: they are inserted in the order they were
decided (so they get the same ids), and the ids needed before then (a new line's, a journal
entry's, an exception's) are provisional negative numbers, replaced as the rows are written.

Only the transaction that holds a batch's cases (its claim and locks) uses a book, so what it
holds cannot go stale: nobody else writes those cases until it commits. Whatever the book was not
told about in advance it reads from the database when first asked, so a prediction that missed
costs a query, never a wrong answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from returnbridge.domain.codec import event_from_dict
from returnbridge.domain.events import ReturnEvent
from returnbridge.domain.journals import JournalDraft, JournalKind, Posting
from returnbridge.services.ports import (
    CaseEventRow,
    CaseRow,
    OpenException,
    PostedJournal,
    PostedLine,
)
from returnbridge.store import queries as q
from returnbridge.store.bulk import execute_many, insert_many
from returnbridge.store.tables import (
    case_events,
    credit_movements,
    exceptions,
    journal_entries,
    journal_lines,
    return_cases,
    return_lines,
    stock_movements,
)

InsertMany = Callable[[Any, list[dict[str, Any]]], list[int]]
NextIds = Callable[[Any, int, int | None], list[int]]


@dataclass
class _Line:
    """What the books hold for one line, kept current as the batch posts to it."""

    id: int
    row: dict[str, Any]
    stock_movements: int = 0
    stock: dict[tuple[str, str], int] = field(default_factory=dict)
    journal_entries: int = 0
    journal: PostedJournal | None = None
    credit_movements: int = 0
    credit: dict[tuple[str, int, str], int] = field(default_factory=dict)
    # what posted() last returned; whoever changes the fields above sets it back to None
    _posted: PostedLine | None = field(default=None, repr=False, compare=False)

    def changed(self) -> _Line:
        self._posted = None
        return self

    def posted(self) -> PostedLine:
        if self._posted is None:
            self._posted = self._snapshot()
        return self._posted

    def _snapshot(self) -> PostedLine:
        return PostedLine(
            id=self.id,
            row=self.row,
            stock_movements=self.stock_movements,
            stock={k: v for k, v in self.stock.items() if v},
            journal_entries=self.journal_entries,
            journal=self.journal,
            credit_movements=self.credit_movements,
            credit={k: v for k, v in self.credit.items() if v},
        )


@dataclass
class _Case:
    events: list[CaseEventRow] = field(default_factory=list)
    lines: dict[str, _Line] = field(default_factory=dict)
    open: list[OpenException] = field(default_factory=list)


class CaseBook:
    """The state of the cases one transaction applies events to, and its pending writes."""

    def __init__(self, conn: Connection, insert_many: InsertMany, next_ids: NextIds) -> None:
        self.conn = conn
        self._insert_many = insert_many
        self._next_ids = next_ids
        self._reset()
        self._next_id = -1
        # New cases get real ids at once (a case's id is part of the keys of what it posts),
        # drawn ahead, as many as the batch's case keys not found: see SqlStore._next_ids.
        self._case_ids: list[int] = []
        self._last_case_id: int | None = None
        self._unknown_keys = 0
        self._new_cases: dict[int, dict[str, Any]] = {}
        self._events: list[dict[str, Any]] = []
        self._new_lines: dict[int, dict[str, Any]] = {}
        self._line_updates: dict[int, dict[str, Any]] = {}
        self._movements: list[dict[str, Any]] = []
        self._credits: list[dict[str, Any]] = []
        self._journals: list[tuple[int, dict[str, Any], list[dict[str, Any]]]] = []
        self._new_exceptions: dict[int, dict[str, Any]] = {}
        self._closes: list[dict[str, Any]] = []
        self._case_updates: dict[int, dict[str, Any]] = {}
        self._processed: list[dict[str, Any]] = []

    def _reset(self) -> None:
        self.rows: dict[int, CaseRow] = {}  # every case row seen, as it stands now
        self.keys: dict[str, int | None] = {}  # case key -> case id (None: no such case)
        self.orders: dict[str, list[int]] = {}  # order ref -> all case ids that carry it
        self.by_order: dict[str | None, set[int]] = {}  # the same, of the rows seen
        self.cases: dict[int, _Case] = {}
        self.lines: dict[int, _Line] = {}  # by line id (the row's key)
        self.exception_case: dict[int, int] = {}  # open exception id -> its case

    def _provisional_id(self) -> int:
        self._next_id -= 1
        return self._next_id + 1

    # --------------------------------------------------------------- loading
    def prefetch(self, case_keys: Iterable[str | None], orders: Iterable[str | None] = ()) -> None:
        """Load the cases of these keys, and the cases of these orders and of the orders the
        cases carry, in a few queries."""
        keys = [k for k in dict.fromkeys(case_keys) if k and k not in self.keys]
        found = self._take(self.conn.execute(q.CASES_BY_KEYS, {"keys": keys})) if keys else []
        for key in keys:
            if self.keys.setdefault(key, None) is None:
                self._unknown_keys += 1
        self._load_orders({*(o for o in orders if o), *(r.order_ref for r in found if r.order_ref)})
        self._load_cases([row.id for row in found])

    def _take(self, result: Iterable[Any]) -> list[CaseRow]:
        rows = []
        for r in result:
            row = self.rows.get(r.id)
            if row is None:
                row = self.rows[r.id] = CaseRow(r.id, r.case_key, r.return_id, r.order_ref)
                self.keys[row.case_key] = row.id
                self.by_order.setdefault(row.order_ref, set()).add(row.id)
            rows.append(row)
        return rows

    def _load_orders(self, orders: set[str]) -> None:
        wanted = [o for o in orders if o not in self.orders]
        if not wanted:
            return
        self._take(self.conn.execute(q.CASES_BY_ORDERS, {"orders": wanted}))
        for order in wanted:  # the rows as they stand now, with this batch's changes
            self.orders[order] = sorted(self.by_order.get(order, ()))

    def _load_cases(self, case_ids: Sequence[int]) -> None:
        ids = [i for i in dict.fromkeys(case_ids) if i not in self.cases]
        if not ids:
            return
        params = {"case_ids": ids}
        cases = {i: _Case() for i in ids}
        for r in self.conn.execute(q.EVENTS_OF_CASES, params):
            body = json.loads(r.body)
            cases[r.case_id].events.append(
                CaseEventRow(r.inbox_id, body, r.payload, event_from_dict(body))
            )
        lines: dict[int, _Line] = {}
        for r in self.conn.execute(q.LINES_OF_CASES, params):
            line = _Line(int(r.id), dict(zip(q.LINE_COLUMNS, r[3:], strict=True)))
            lines[line.id] = cases[r.case_id].lines[r.line_id] = line
        if lines:
            for r in self.conn.execute(q.STOCK_OF_CASES, params):
                line = lines[r.line_ref]
                line.stock_movements += int(r.n)
                line.stock[(r.warehouse, r.sku)] = int(r.net)
            for r in self.conn.execute(q.CREDIT_OF_CASES, params):
                line = lines[r.line_ref]
                line.credit_movements += int(r.n)
                line.credit[(r.sku, int(r.unit_amount), r.currency)] = int(r.net)
            entries = self.conn.execute(q.JOURNALS_OF_CASES, params).all()
            reversed_ids = {e.reverses_id for e in entries if e.reverses_id is not None}
            live = {}
            for e in entries:
                lines[e.line_ref].journal_entries += 1
                if e.kind != JournalKind.REVERSAL and e.id not in reversed_ids:
                    live[e.line_ref] = e
            postings: dict[int, list[Posting]] = {}
            if live:
                entry_ids = [e.id for e in live.values()]
                for r in self.conn.execute(q.POSTINGS_OF_ENTRIES, {"entry_ids": entry_ids}):
                    postings.setdefault(r.entry_id, []).append(
                        Posting(r.account, int(r.debit), int(r.credit))
                    )
            for line_ref, e in live.items():
                draft = JournalDraft(JournalKind(e.kind), e.currency, tuple(postings[e.id]), e.memo)
                lines[line_ref].journal = PostedJournal(e.id, e.entry_key, draft)
        for r in self.conn.execute(q.OPEN_EXCEPTIONS_OF_CASES, params):
            cases[r.case_id].open.append(OpenException(r.id, r.code, r.line_id))
            self.exception_case[r.id] = r.case_id
        self.cases.update(cases)
        self.lines.update(lines)

    def _case(self, case_id: int) -> _Case:
        if case_id not in self.cases:
            self._load_cases([case_id])
        return self.cases[case_id]

    def _by_key(self, case_key: str) -> CaseRow | None:
        if case_key not in self.keys:
            self.keys[case_key] = None
            self._take(self.conn.execute(q.CASE_BY_KEY, {"case_key": case_key}))
        case_id = self.keys[case_key]
        return None if case_id is None else self.rows[case_id]

    def _of_order(self, order_ref: str, provisional: bool) -> CaseRow | None:
        self._load_orders({order_ref})
        rows = (self.rows[i] for i in self.orders[order_ref])
        if provisional:
            rows = (r for r in rows if r.return_id is None)
        return min(rows, key=lambda r: r.id, default=None)

    # ------------------------------------------------------------------ cases
    def create_case(
        self, case_key: str, return_id: str | None, order_ref: str | None, now: datetime
    ) -> CaseRow:
        """A new case, written when the batch ends (before anything that refers to it)."""
        if not self._case_ids:
            wanted = max(self._unknown_keys, 1)
            self._case_ids = self._next_ids(return_cases, wanted, self._last_case_id)
            self._unknown_keys = 0
        case_id = self._last_case_id = self._case_ids.pop(0)
        self._new_cases[case_id] = {
            "id": case_id,
            "case_key": case_key,
            "return_id": return_id,
            "order_ref": order_ref,
            "status": "registered",
            "provisional": False,
            # every column update_case sets, so the batch's new cases go in one executemany
            "retailer_code": None,
            "order_number": None,
            "warehouse": None,
            "rma_id": None,
            "created_at": now,
            "updated_at": now,
        }
        row = CaseRow(case_id, case_key, return_id, order_ref)
        self.created(row)
        return row

    def is_new(self, case_id: int) -> bool:
        """Created by this batch and not written yet."""
        return case_id in self._new_cases

    def find_case(
        self, case_key: str, return_id: str | None, order_ref: str | None
    ) -> CaseRow | None:
        found = self._by_key(case_key)
        if found or not order_ref:
            return found
        return self._of_order(order_ref, provisional=bool(return_id))

    def provisional_case_of_order(self, order_ref: str) -> CaseRow | None:
        return self._of_order(order_ref, provisional=True)

    def created(self, row: CaseRow) -> None:
        """A case was inserted (at once: its id is part of the keys of what it posts)."""
        self.rows[row.id] = row
        self.keys[row.case_key] = row.id
        self.by_order.setdefault(row.order_ref, set()).add(row.id)
        if row.order_ref in self.orders:
            self.orders[row.order_ref].append(row.id)
        self.cases[row.id] = _Case()

    def adopted(self, case_id: int, case_key: str, return_id: str) -> None:
        if case_id in self._new_cases:
            self._new_cases[case_id].update(case_key=case_key, return_id=return_id)
        row = self.rows[case_id]
        self.keys[row.case_key] = None
        self.rows[case_id] = replace(row, case_key=case_key, return_id=return_id)
        self.keys[case_key] = case_id

    def forget(self) -> None:
        """Drop what is held (after a flush): it is read again from the database when needed."""
        self._reset()

    def add_case_event(
        self,
        case_id: int,
        inbox_id: int,
        body: dict[str, Any],
        raw: str,
        event: ReturnEvent | None,
    ) -> None:
        self._events.append({"case_id": case_id, "inbox_id": inbox_id, "body": json.dumps(body)})
        self._case(case_id).events.append(
            CaseEventRow(inbox_id, body, raw, event or event_from_dict(body))
        )

    def mark_processed(self, inbox_id: int, now: datetime, worker: str) -> None:
        self._processed.append(
            {"inbox_id": inbox_id, "status": "processed", "now": now, "error": None,
             "worker": worker}
        )  # fmt: skip

    def case_events(self, case_id: int) -> list[CaseEventRow]:
        return list(self._case(case_id).events)

    def update_case(self, case_id: int, values: dict[str, Any], now: datetime) -> None:
        if case_id in self._new_cases:
            self._new_cases[case_id].update(values, updated_at=now)
        else:
            self._case_updates[case_id] = {"case_id": case_id, "updated_at": now, **values}
        row = self.rows.get(case_id)
        order_ref = values.get("order_ref", row.order_ref if row else None)
        if row is None or order_ref == row.order_ref:
            return
        if row.order_ref in self.orders:
            self.orders[row.order_ref] = [i for i in self.orders[row.order_ref] if i != case_id]
        if order_ref in self.orders:
            self.orders[order_ref] = sorted([*self.orders[order_ref], case_id])
        self.rows[case_id] = replace(row, order_ref=order_ref)
        self.by_order.get(row.order_ref, set()).discard(case_id)
        self.by_order.setdefault(order_ref, set()).add(case_id)

    # ------------------------------------------------- lines, stock, journals
    def posted_lines(self, case_id: int) -> dict[str, PostedLine]:
        return {line_id: line.posted() for line_id, line in self._case(case_id).lines.items()}

    def save_line(
        self,
        case_id: int,
        line_id: str,
        row: dict[str, Any],
        posted: PostedLine | None,
        now: datetime,
    ) -> int:
        if posted is None:
            line_ref = self._provisional_id()
            self._new_lines[line_ref] = {
                "case_id": case_id,
                "line_id": line_id,
                "updated_at": now,
                **row,
            }
            line = self.lines[line_ref] = _Line(line_ref, row)
            self._case(case_id).lines[line_id] = line
            return line_ref
        if row != posted.row:
            self.lines[posted.id].changed().row = row
            if posted.id < 0:
                self._new_lines[posted.id].update(row, updated_at=now)
            else:
                self._line_updates[posted.id] = {"line_ref": posted.id, "updated_at": now, **row}
        return posted.id

    def add_movement(self, values: dict[str, Any]) -> None:
        self._movements.append(values)
        line = self.lines[values["line_ref"]].changed()
        line.stock_movements += 1
        position = (values["warehouse"], values["sku"])
        line.stock[position] = line.stock.get(position, 0) + values["quantity"]

    def add_credit_movement(self, values: dict[str, Any]) -> None:
        self._credits.append(values)
        line = self.lines[values["line_ref"]].changed()
        line.credit_movements += 1
        position = (values["sku"], values["unit_amount"], values["currency"])
        line.credit[position] = line.credit.get(position, 0) + values["quantity"]

    def add_journal(
        self, values: dict[str, Any], draft: JournalDraft, postings: list[dict[str, Any]]
    ) -> int:
        entry_id = self._provisional_id()
        self._journals.append((entry_id, values, postings))
        line = self.lines[values["line_ref"]].changed()
        line.journal_entries += 1
        reverses = values["reverses_id"]
        if reverses is not None and line.journal is not None and line.journal.id == reverses:
            line.journal = None
        if draft.kind is not JournalKind.REVERSAL:
            line.journal = PostedJournal(entry_id, values["entry_key"], draft)
        return entry_id

    # ----------------------------------------------------------- exceptions
    def open_exceptions(self, case_id: int) -> list[OpenException]:
        return list(self._case(case_id).open)

    def add_exception(self, values: dict[str, Any]) -> int:
        exception_id = self._provisional_id()
        self._new_exceptions[exception_id] = {
            **values,
            "resolved_at": None,
            "resolved_by": None,
            "resolution": None,
            "resolution_note": None,
        }
        case_id = values["case_id"]
        if case_id is not None:
            self._case(case_id).open.append(
                OpenException(exception_id, values["code"], values["line_id"])
            )
            self.exception_case[exception_id] = case_id
        return exception_id

    def close_exception(self, values: dict[str, Any]) -> None:
        exception_id = values["exception_id"]
        case_id = self.exception_case.pop(exception_id, None)
        if case_id is not None and case_id in self.cases:
            case = self.cases[case_id]
            case.open = [e for e in case.open if e.id != exception_id]
        if exception_id >= 0:
            self._closes.append(values)
            return
        row = self._new_exceptions[exception_id]
        if row["status"] == "open":
            row.update(
                status=values["status"],
                resolved_at=values["now"],
                resolved_by=values["by"],
                resolution=values["resolution"],
                resolution_note=values["note"],
            )

    # ---------------------------------------------------------------- flush
    def flush(self) -> None:
        """Write what the batch decided, one statement per table, in the order it was decided."""
        conn = self.conn
        real: dict[int, int] = {}

        def ref(value: int | None) -> int | None:
            return real.get(value, value) if value is not None and value < 0 else value

        if self._new_cases:
            insert_many(conn, return_cases, list(self._new_cases.values()))
        if self._events:
            insert_many(conn, case_events, self._events)
        if self._new_lines:
            ids = self._insert_many(return_lines, list(self._new_lines.values()))
            real.update(zip(self._new_lines, ids, strict=True))
        if self._line_updates:
            execute_many(conn, q.UPDATE_LINE, list(self._line_updates.values()))
        for table, rows in ((stock_movements, self._movements), (credit_movements, self._credits)):
            if rows:
                insert_many(conn, table, [{**r, "line_ref": ref(r["line_ref"])} for r in rows])
        self._flush_journals(real, ref)
        if self._new_exceptions:
            ids = self._insert_many(exceptions, list(self._new_exceptions.values()))
            real.update(zip(self._new_exceptions, ids, strict=True))
        if self._closes:
            execute_many(conn, q.CLOSE_EXCEPTION, self._closes)
        if self._case_updates:
            execute_many(conn, q.UPDATE_CASE, list(self._case_updates.values()))
        if self._processed and conn.dialect.name == "postgresql":
            conn.execute(q.MARK_PROCESSED_ARRAYS, {
                "ids": [r["inbox_id"] for r in self._processed],
                "ats": [r["now"] for r in self._processed],
                "workers": [r["worker"] for r in self._processed],
            })  # fmt: skip
        elif self._processed:
            execute_many(conn, q.MARK_INBOX, self._processed)
        for pending in (self._events, self._movements, self._credits, self._journals,
                        self._closes, self._processed):  # fmt: skip
            pending.clear()
        for held in (self._new_cases, self._new_lines, self._line_updates, self._new_exceptions,
                     self._case_updates):  # fmt: skip
            held.clear()

    def _flush_journals(self, real: dict[int, int], ref: Callable[[Any], Any]) -> None:
        """Entries in the order they were decided; a reversal of an entry of this batch waits
        until that entry has its id (the run is cut there, so ids still follow that order)."""
        pending, start = self._journals, 0
        while start < len(pending):
            end = start
            while end < len(pending):
                reverses = pending[end][1]["reverses_id"]
                if reverses is not None and reverses < 0 and reverses not in real:
                    break
                end += 1
            assert end > start, "a reversal refers to an entry decided after it"
            chunk = pending[start:end]
            rows = [
                {
                    **values,
                    "line_ref": ref(values["line_ref"]),
                    "reverses_id": ref(values["reverses_id"]),
                }
                for _, values, _ in chunk
            ]
            ids = self._insert_many(journal_entries, rows)
            real.update(zip((entry_id for entry_id, _, _ in chunk), ids, strict=True))
            start = end
        postings = [
            {**p, "entry_id": real[entry_id]} for entry_id, _, entry in pending for p in entry
        ]
        if postings:
            insert_many(self.conn, journal_lines, postings)
