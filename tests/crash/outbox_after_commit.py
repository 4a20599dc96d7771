"""Sabotage for the crash harness: the outbox write moved outside the transaction.

``install()`` (run by a ``sitecustomize`` in the harness's sabotaged processes) makes
``SqlStore.add_to_outbox`` keep its message aside instead of inserting it; once the
transaction that booked the stock movement, journal entry or credit movement has committed
(the connection goes back to the pool), it waits a little (a wider window for the kills to
land in) and writes the messages through a connection of its own. A process killed in that
window loses them: the harness must notice (reconcile's OUTBOX_COMPLETE, or a final state
that differs from the fault-free run).

If the pipeline comes to write outbox rows another way (a batched method), patch that method
here the same way.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool, Pool

from returnbridge.store import queries as q
from returnbridge.store.sql import SqlStore

ASIDE = "crash-sabotage: outbox rows of this transaction"
COMMITTED = "crash-sabotage: outbox rows committed, to write"
DELAY_SECONDS = 0.3
_engines: dict[str, Engine] = {}


def _add_to_outbox(self: SqlStore, topic: str, key: str, payload: dict[str, Any], now: Any) -> None:
    row = {
        "topic": topic,
        "message_key": key,
        "payload": json.dumps(payload, sort_keys=True),
        "status": "pending",
        "attempts": 0,
        "created_at": now,
    }
    url = self.conn.engine.url.render_as_string(hide_password=False)
    self.conn.info.setdefault(ASIDE, (url, []))[1].append(row)


def _on_commit(conn: Any) -> None:
    aside = conn.info.pop(ASIDE, None)
    if aside:
        conn.info[COMMITTED] = aside


def _on_rollback(conn: Any) -> None:
    conn.info.pop(ASIDE, None)
    conn.info.pop(COMMITTED, None)


def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is None:
        return
    committed = record.info.pop(COMMITTED, None)
    if not committed:
        return
    url, rows = committed
    time.sleep(DELAY_SECONDS)
    engine = _engines.get(url) or _engines.setdefault(url, create_engine(url, poolclass=NullPool))
    try:
        with engine.begin() as conn:
            conn.execute(q.INSERT_OUTBOX, rows)
    except Exception:  # a replayed batch writes the same keys again
        pass


INSTALLED = "crash-sabotage installed: outbox rows are written after the commit"


def install() -> None:
    if not hasattr(SqlStore, "add_to_outbox"):
        raise RuntimeError(
            "SqlStore.add_to_outbox is gone: adapt tests/crash/outbox_after_commit.py"
        )
    SqlStore.add_to_outbox = _add_to_outbox  # type: ignore[method-assign]
    event.listen(Engine, "commit", _on_commit)
    event.listen(Engine, "rollback", _on_rollback)
    event.listen(Pool, "checkin", _on_checkin)
    sys.stderr.write(INSTALLED + "\n")  # the harness checks it was
