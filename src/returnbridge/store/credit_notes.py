"""Credit-note numbers and the notes as numbered (``credit_note_series``, ``credit_notes``).

Numbers are taken in the transaction that prepares their notes, by one ``UPDATE ... RETURNING``
of the series row (which locks it on PostgreSQL, and SQLite has one writer), so two preparers
never take the same number and a rolled-back prepare gives its numbers back: the series has no
gaps. A note's date, items and total are stored when it is numbered and never change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from returnbridge.store.sql import SqlStore
from returnbridge.store.tables import credit_note_series, credit_notes

NUMBERED = "numbered"
_CHUNK = 500


def credit_note_number(series: str, sequence: int) -> str:
    """``RBCN-000001``: the series, then the sequence on six digits (more past a million)."""
    return f"{series}-{sequence:06d}"


class SqlCreditNoteStore(SqlStore):
    """The numbered credit notes, for the clearing cycle and the month-end."""

    def take_credit_note_numbers(self, series: str, count: int) -> list[str]:
        """The next ``count`` numbers of ``series``, in order."""
        if count <= 0:
            return []
        dialect_insert = pg_insert if self._postgres else sqlite_insert
        self.conn.execute(
            dialect_insert(credit_note_series)
            .values(series=series, last_number=0)
            .on_conflict_do_nothing(index_elements=["series"])
        )
        s = credit_note_series.c
        last = self.conn.execute(
            update(credit_note_series)
            .where(s.series == series)
            .values(last_number=s.last_number + count)
            .returning(s.last_number)
        ).scalar_one()
        return [credit_note_number(series, n) for n in range(last - count + 1, last + 1)]

    def save_credit_notes(self, series: str, bodies: Sequence[dict[str, Any]]) -> None:
        """Keep each note as numbered (``bodies``: the stored form, with number and date)."""
        if not bodies:
            return
        self.conn.execute(
            insert(credit_notes),
            [
                {
                    "number": body["number"],
                    "series": series,
                    "sequence": int(body["number"].rsplit("-", 1)[1]),
                    "issued_at": datetime.fromisoformat(body["issued_at"]),
                    "currency": body["currency"],
                    "returns_reference": body["returns_reference"],
                    "total": sum(int(i["quantity"]) * int(i["unit_amount"]) for i in body["lines"]),
                    "body": json.dumps(body, sort_keys=True),
                    "status": NUMBERED,
                }
                for body in bodies
            ],
        )

    def credit_note_bodies(self, numbers: Iterable[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Number -> (status, the note as numbered), for the numbers returnbridge keeps."""
        wanted = sorted(set(numbers))
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        c = credit_notes.c
        for start in range(0, len(wanted), _CHUNK):
            rows = self.conn.execute(
                select(c.number, c.status, c.body).where(
                    c.number.in_(wanted[start : start + _CHUNK])
                )
            )
            found.update({r.number: (r.status, json.loads(r.body)) for r in rows})
        return found


__all__ = ["NUMBERED", "SqlCreditNoteStore", "credit_note_number"]
