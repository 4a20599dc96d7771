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
from returnbridge.services.pipeline import ProcessStats


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


def stop_on_signals(stop: threading.Event) -> None:
    """Make SIGTERM and SIGINT set ``stop`` instead of killing the process mid-batch."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
