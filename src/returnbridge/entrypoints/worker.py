"""The worker loop: drain the inbox, wait, drain again, until asked to stop.

SIGTERM and SIGINT stop the loop between batches: a batch in flight finishes and commits (or
rolls back as a whole), so stopping never loses or half-applies an event.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from returnbridge.bootstrap import App
from returnbridge.domain.schedule import CycleSchedule
from returnbridge.services.cycles import ClearingCycle, CycleReport
from returnbridge.services.pipeline import ProcessStats
from returnbridge.services.ports import Clock
from returnbridge.store.cycles import cycle_transaction


def run_worker(
    rb: App,
    interval: float,
    stop: threading.Event,
    on_batch: Callable[[ProcessStats], None] = lambda _: None,
) -> ProcessStats:
    """Process until ``stop`` is set; returns the totals."""
    totals = ProcessStats()
    while not stop.is_set():
        batch = ProcessStats()
        while not stop.is_set() and rb.processor.run_batch(batch):
            pass
        if batch.total:
            totals.processed += batch.processed
            totals.invalid += batch.invalid
            totals.failed += batch.failed
            on_batch(batch)
        stop.wait(interval)
    return totals


def run_cycles(
    rb: App,
    cycle: ClearingCycle,
    schedule: CycleSchedule,
    stop: threading.Event,
    clock: Clock,
    on_cycle: Callable[[CycleReport], None] = lambda _: None,
    poll_seconds: float = 1.0,
    max_wait: float = 60.0,
) -> int:
    """Close a clearing cycle at every cut-off of ``schedule`` until ``stop`` is set; returns how
    many cut-offs were served. A cut-off missed while the service was down (none since the
    last cycle in the database) is served at once on start."""
    with cycle_transaction(rb.engine) as store:
        last = store.last_cycle_started()
    served = 0

    def pause(seconds: float) -> None:
        stop.wait(seconds)  # a stop request cuts the status polling short

    while not stop.is_set():
        now = clock()
        if schedule.due(last, now):
            on_cycle(cycle.close(pause=pause, pause_seconds=poll_seconds))
            last, served = now, served + 1
        wait = (schedule.next_after(clock()) - clock()).total_seconds()
        stop.wait(min(max(wait, 0.0), max_wait))
    return served


def stop_on_signals(stop: threading.Event) -> None:
    """Make SIGTERM and SIGINT set ``stop`` instead of killing the process mid-batch."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
