"""Group commit and backpressure for ``POST /webhooks/zigzag``.

**Group commit.** A request hands its inbox record to the ``InboxWriter`` and waits. One writer
task takes everything queued (up to ``max_batch`` records), stores it in ONE transaction on a
worker thread (``add_to_inbox`` de-duplicates within the batch: two deliveries of one event are
one row and one duplicate), commits, and only then answers every request of the batch. While it
writes, the next requests queue up, so the busier the endpoint, the larger the batches and the
fewer the commits. Durability is unchanged: a request is answered 202 only after the commit that
holds its event. A commit that fails fails every request of its batch (5xx, nothing stored: the
senders retry). A batch that fails for any reason but the database being unavailable is tried
again one record per transaction, so one record that cannot be stored cannot keep the others out.

**Backpressure.** The writer knows how many inbox events are pending: it counts them in its own
write transaction at most every ``count_every`` seconds (less often when counting is slow, so a
count takes at most about 2 % of the time: ``COUNT_SHARE``) and adds the events it stores in
between. Once ``hard_limit`` are pending, a delivery is refused with ``InboxFull`` and nothing
of it is stored: at once, while the count that says so is fresh; otherwise by the writer, which
counts again and stores only as many records of the batch as leave room. The worker (in this
process or another) lowers the count between two counts, so a refusal can come up to one count
late in lifting; events stored meanwhile by other processes (imports, polling) raise it, so the
limit can be passed by what they stored since the last count.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Literal

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from returnbridge.domain.errors import ReturnBridgeError, StoreUnavailable
from returnbridge.services.pipeline import ingest_each
from returnbridge.services.ports import InboxRecord
from returnbridge.store.sql import transaction
from returnbridge.store.webhooks import inbox_pending

Outcome = Literal["accepted", "duplicate", "invalid"]
MAX_BATCH = 500  # records per transaction: bounds how long one commit keeps the others waiting
COUNT_EVERY = 1.0  # seconds between two counts of the pending events, at least
COUNT_SHARE = 0.02  # ... and long enough that counting takes at most this share of the time
log = structlog.get_logger("returnbridge.http")


class InboxFull(ReturnBridgeError):
    """The inbox holds ``inbox_hard_limit`` pending events: the delivery is refused, not stored,
    and its sender should retry later."""

    code = "inbox_full"


def _outcome(record: InboxRecord, inbox_id: int | None) -> Outcome:
    if inbox_id is None:
        return "duplicate"
    return "invalid" if record.invalid_reason else "accepted"


_Result = Outcome | BaseException  # per record: what its request is answered, or why it fails


class InboxWriter:
    """Stores the records handed to ``store`` in shared transactions; refuses them past the
    hard limit. One per app, used from the app's event loop."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime],
        hard_limit: int,
        *,
        max_batch: int = MAX_BATCH,
        count_every: float = COUNT_EVERY,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.hard_limit = hard_limit
        self.max_batch = max_batch
        self.count_every = count_every
        self.timer = timer
        self.refused = 0  # deliveries refused because the inbox was full
        self.commits = 0  # transactions committed
        self._queue: deque[tuple[InboxRecord, asyncio.Future[Outcome]]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._pending = 0  # as of the last count, plus what was stored since
        self._count_due = 0.0  # (timer) when the count is stale; 0: never counted
        self._full = False

    async def store(self, record: InboxRecord) -> Outcome:
        """Store ``record`` (shared transaction) and say how; returns after the commit.

        Raises ``InboxFull`` (nothing stored), ``StoreUnavailable``, or whatever stopped the
        transaction that held it (nothing stored either).
        """
        if self._pending >= self.hard_limit and self.timer() < self._count_due:
            self.refused += 1
            raise self._refusal()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._queue.append((record, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain(), name="inbox writer")
        return await future

    def _refusal(self) -> InboxFull:
        return InboxFull(
            f"the inbox holds {self._pending} pending events, the limit is {self.hard_limit} "
            "(RETURNBRIDGE_INBOX_HARD_LIMIT); nothing was stored, send it again later"
        )

    async def _drain(self) -> None:
        """Store what is queued, a batch per transaction, until the queue is empty."""
        loop = asyncio.get_running_loop()
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
            records = [record for record, _ in batch]
            try:
                results = await loop.run_in_executor(None, self.write, records)
            except BaseException as exc:  # every request of the batch fails, none is answered 2xx
                results = [exc] * len(batch)
                if not isinstance(exc, Exception):  # cancelled: the loop is stopping
                    for _, future in batch:
                        future.cancel()
                    raise
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # its request was cancelled; the record is stored all the same
                    continue
                if isinstance(result, BaseException):
                    self.refused += isinstance(result, InboxFull)
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def write(self, records: list[InboxRecord]) -> list[_Result]:
        """Store ``records`` now, on this thread (``store`` calls it on a worker thread): in
        one transaction, or one record per transaction where the batch as a whole cannot be
        stored (not when the database is unavailable: that raises). Per record, its outcome or
        the error its request is answered with (``InboxFull`` past the limit)."""
        try:
            try:
                return self._commit(records)
            except IntegrityError:
                # Another process stored one of these events between our read and our insert
                # (PostgreSQL): it is a duplicate now, which a second try sees.
                return self._commit(records)
        except StoreUnavailable:
            raise
        except PoolTimeout as exc:
            raise StoreUnavailable(f"no database connection free: {exc}") from exc
        except Exception as exc:
            if len(records) == 1:
                raise
            log.error("inbox batch failed; storing its records one by one", error=repr(exc))
        results: list[_Result] = []
        for record in records:
            try:
                results.extend(self._commit([record]))
            except Exception as exc:
                results.append(exc)
        return results

    def _commit(self, records: list[InboxRecord]) -> list[_Result]:
        count = self.timer() >= self._count_due
        started = self.timer()
        with transaction(self.engine) as store:
            pending = inbox_pending(store.conn) if count else self._pending
            counted = self.timer()
            kept = records[: max(0, self.hard_limit - pending)]
            ids = ingest_each(store, kept, self.clock()) if kept else []
        # Committed: only now is any of it answered.
        self.commits += 1
        added = sum(
            1 for r, i in zip(kept, ids, strict=True) if i is not None and not r.invalid_reason
        )
        self._pending = pending + added
        if count:
            took = counted - started
            self._count_due = self.timer() + max(self.count_every, took / COUNT_SHARE)
        self._note_fullness()
        results: list[_Result] = [_outcome(r, i) for r, i in zip(kept, ids, strict=True)]
        for _ in records[len(kept) :]:
            results.append(self._refusal())
        return results

    def _note_fullness(self) -> None:
        full = self._pending >= self.hard_limit
        if full != self._full:
            self._full = full
            if full:
                log.warning(
                    "inbox full: refusing webhooks", pending=self._pending, limit=self.hard_limit
                )
            else:
                log.warning(
                    "inbox below its limit: accepting webhooks again",
                    pending=self._pending,
                    limit=self.hard_limit,
                )


__all__ = ["InboxFull", "InboxWriter", "Outcome", "ingest_each"]
