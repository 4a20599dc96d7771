"""``returnbridge serve`` and ``returnbridge worker``: the HTTP app and the loops beside it, in
one process.

Each loop runs in a thread of its own; one event stops them all:

- **inbox**: the worker (``run_worker``), a batch of pending inbox events per transaction, on
  its own ``Processor`` (the API applies people's decisions with the app's);
- **rfs**: ``serve`` only: every hour, refunds at first scan whose goods are late are flagged
  (RFS_NOT_RECEIVED), and the flags of those that arrived are closed;
- **cycles**: a clearing cycle with Amazon at each cut-off of
  ``RETURNBRIDGE_AMAZON_CYCLE_SCHEDULE`` (``run_cycles``), raising the cycle's alerts; only when
  Amazon's credentials are set, as ``cycle watch`` needs them;
- **erp**: the ERP export (record, write, deliver) every ``erp_every`` seconds; only when an
  ERP endpoint is set (without one, ``export erp`` writes the files when finance wants them);
- **alerts**: the alert rules every ``RETURNBRIDGE_ALERT_EVALUATE_SECONDS`` (``run_alerts``).

A stop (SIGTERM or SIGINT) sets the event: the HTTP server stops accepting and finishes the
requests in flight, and each loop finishes what it holds (the worker its batch, committed or
rolled back as a whole) and returns; then the process exits 0. A loop that fails is logged and
started again after a pause that doubles up to a minute, so the service outlives a database
restart or a partner's outage.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import structlog

from returnbridge.bootstrap import App
from returnbridge.connectors.amazon.spapi import SpApiVendor
from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.domain.schedule import CycleSchedule
from returnbridge.entrypoints.alerting import record_cycle_alerts, run_alerts
from returnbridge.entrypoints.cli.erp import erp_exporter
from returnbridge.entrypoints.http.server import serve_forever
from returnbridge.entrypoints.worker import run_cycles, run_worker, stop_on_signals
from returnbridge.observability.alerts import LogAlertSink
from returnbridge.services.alerts import cycle_alerts
from returnbridge.services.cycles import CycleReport
from returnbridge.services.erp_export import ErpExportReport
from returnbridge.services.pipeline import ProcessStats
from returnbridge.services.rfs import sweep_not_received
from returnbridge.store.rfs import rfs_transaction

RFS_SWEEP_SECONDS = 3_600.0
RESTART_PAUSE_MAX = 60.0
SHUTDOWN_SECONDS = 20.0  # a stop waits this long for the loops, after the HTTP requests (10 s)

log = structlog.get_logger("returnbridge.service")
Say = Callable[[str], None]


@dataclass(frozen=True)
class LoopOptions:
    """Which loops a process runs (``serve --no-cycles``, ``worker --cycles``, ...)."""

    worker: bool = True
    rfs_sweep: bool = True
    cycles: bool = True
    erp: bool = True
    alerts: bool = True
    interval: float = 1.0  # seconds between inbox polls once it is empty
    erp_every: float = 900.0
    erp_out: Path = Path("erp")
    cycle_poll_seconds: float = 1.0


@dataclass(frozen=True)
class Loop:
    name: str
    run: Callable[[threading.Event], object]  # returns once the event is set
    description: str


@dataclass(frozen=True)
class Plan:
    loops: tuple[Loop, ...]
    off: tuple[str, ...]  # what does not run here, and why


def plan_loops(rb: App, options: LoopOptions, say: Say = lambda _: None) -> Plan:
    """The loops ``options`` ask for that the settings allow; the rest with the reason."""
    loops: list[Loop] = []
    off: list[str] = []
    settings = rb.settings
    if options.worker:
        loops.append(
            Loop(
                "inbox",
                _inbox(rb.with_own_processor(), options.interval, say),
                f"inbox worker (polls every {options.interval:g} s when idle)",
            )
        )
    if options.rfs_sweep:
        loops.append(Loop("rfs", _rfs_sweep(rb, say), "refunds at first scan: swept hourly"))
    if not options.cycles:
        off.append("clearing cycles: off here")
    elif missing := rb.amazon_missing():
        off.append(f"clearing cycles: off, Amazon is not configured (set {', '.join(missing)})")
    else:
        schedule = CycleSchedule.parse(settings.amazon_cycle_schedule)
        loops.append(
            Loop(
                "cycles",
                _cycles(rb, schedule, options.cycle_poll_seconds, say),
                f"clearing cycles at {schedule.text} (UTC), next "
                f"{schedule.next_after(rb.clock()):%Y-%m-%d %H:%M}",
            )
        )
    if not options.erp:
        off.append("ERP delivery: off here")
    elif not settings.erp_endpoint_url:
        off.append(
            "ERP delivery: off, RETURNBRIDGE_ERP_ENDPOINT_URL is not set "
            "(`returnbridge export erp` writes the files)"
        )
    else:
        loops.append(
            Loop(
                "erp",
                _erp(rb, options.erp_out, options.erp_every, say),
                f"ERP export every {options.erp_every:g} s into {options.erp_out}",
            )
        )
    if options.alerts:
        loops.append(
            Loop(
                "alerts",
                lambda stop: run_alerts(rb, stop),
                f"alerts evaluated every {settings.alert_evaluate_seconds:g} s",
            )
        )
    else:
        off.append("alerts: off here")
    return Plan(tuple(loops), tuple(off))


def _inbox(rb: App, interval: float, say: Say) -> Callable[[threading.Event], object]:
    def reported(batch: ProcessStats) -> None:
        say(f"inbox: {batch.processed} processed, {batch.invalid} invalid, {batch.failed} failed")

    return lambda stop: run_worker(rb, interval, stop, on_batch=reported)


def _rfs_sweep(rb: App, say: Say) -> Callable[[threading.Event], object]:
    engine = rb.engine
    window = timedelta(days=rb.settings.rfs_window_days)

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            result = sweep_not_received(lambda: rfs_transaction(engine), rb.clock, window)
            if result.opened or result.closed:
                say(
                    f"refunds at first scan: {result.opened} RFS_NOT_RECEIVED opened, "
                    f"{result.closed} closed"
                )
            stop.wait(RFS_SWEEP_SECONDS)

    return run


class _CycleAlerts:
    """Raises each cycle's alerts (log, alerts table, webhook) with what that cycle alone cost,
    as ``cycle watch`` does."""

    def __init__(self, rb: App, vendor: SpApiVendor, say: Say) -> None:
        self.rb = rb
        self.vendor = vendor
        self.say = say
        self.seen = (0, 0)

    def __call__(self, report: CycleReport) -> None:
        now = (self.vendor.stats.calls, self.vendor.stats.throttled)
        calls, throttled = now[0] - self.seen[0], now[1] - self.seen[1]
        self.seen = now
        share = self.rb.settings.amazon_throttle_alert_share
        alerts = cycle_alerts(report, calls, throttled, throttle_share=share)
        LogAlertSink().emit(alerts)
        record_cycle_alerts(self.rb, alerts)
        self.say(
            f"cycle {report.cycle_id or '-'}: {report.sent} sent, {report.succeeded} confirmed, "
            f"{report.failed} failed, {report.stuck} stuck, {report.processing} still "
            f"processing, {report.unsent} not sent"
        )


def _cycles(
    rb: App, schedule: CycleSchedule, poll_seconds: float, say: Say
) -> Callable[[threading.Event], object]:
    def run(stop: threading.Event) -> int:
        vendor = rb.amazon_vendor()
        try:
            return run_cycles(
                rb,
                rb.clearing_cycle(vendor),
                schedule,
                stop,
                rb.clock,
                on_cycle=_CycleAlerts(rb, vendor, say),
                poll_seconds=poll_seconds,
            )
        finally:
            vendor.close()

    return run


class _Stopped(Exception):
    """A stop came while a delivery waited to retry: the batch stays for the next run."""


def _erp(rb: App, out: Path, every: float, say: Say) -> Callable[[threading.Event], object]:
    def run(stop: threading.Event) -> None:
        def pause(seconds: float) -> None:
            if stop.wait(seconds):
                raise _Stopped

        with erp_exporter(rb, out, sleep=pause) as exporter:
            while not stop.is_set():
                try:
                    report = exporter.run()
                except _Stopped:
                    return
                _report_erp(report, say)
                stop.wait(every)

    return run


def _report_erp(report: ErpExportReport, say: Say) -> None:
    if report.recorded or report.delivered or report.undelivered:
        say(
            f"ERP: batch(es) {', '.join(report.recorded) or 'none'} recorded, "
            f"{len(report.delivered)} delivered, {report.undelivered} left for the next run"
        )
    if report.refused:
        log.error("erp_batch_refused", batches=list(report.refused))


class LoopThreads:
    """Each loop in a daemon thread, started again after a pause if it fails."""

    def __init__(self, loops: tuple[Loop, ...], stop: threading.Event) -> None:
        self.loops = loops
        self.stop = stop
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for loop in self.loops:
            thread = threading.Thread(
                target=self._keep, args=(loop,), name=f"returnbridge {loop.name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def _keep(self, loop: Loop) -> None:
        pause = 1.0
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                loop.run(self.stop)
                return
            except Exception as exc:  # the loop starts again; the log says what went wrong
                if time.monotonic() - started > RESTART_PAUSE_MAX:
                    pause = 1.0  # it ran well for a while: this failure is a new story
                log.error(
                    "loop_failed",
                    loop=loop.name,
                    code=exc.code if isinstance(exc, ReturnBridgeError) else None,
                    error=f"{type(exc).__name__}: {exc}",
                    restart_in_seconds=pause,
                )
            self.stop.wait(pause)
            pause = min(pause * 2, RESTART_PAUSE_MAX)

    def join(self, timeout: float = SHUTDOWN_SECONDS) -> list[str]:
        """Wait for every loop up to ``timeout`` in all; the names of those still busy."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self.threads if t.is_alive()]


def run_service(
    rb: App,
    host: str,
    port: int,
    plan: Plan,
    announce: Callable[[], None] = lambda: None,
    *,
    access_log: bool = True,
) -> list[str]:
    """Serve the HTTP app in the foreground with ``plan``'s loops beside it until SIGTERM or
    SIGINT; returns the loops still busy when the stop gave up waiting (normally none)."""
    stop = threading.Event()
    threads = LoopThreads(plan.loops, stop)
    try:
        serve_forever(
            rb,
            host,
            port,
            announce,
            stopping=stop,
            on_started=threads.start,
            access_log=access_log,
        )
    finally:
        stop.set()
        busy = threads.join()
    return busy


def run_loops(plan: Plan) -> list[str]:
    """Run ``plan``'s loops (no HTTP) until SIGTERM or SIGINT; as ``run_service``."""
    stop = threading.Event()
    stop_on_signals(stop)
    threads = LoopThreads(plan.loops, stop)
    threads.start()
    while not stop.wait(1.0):
        pass
    return threads.join()


__all__ = ["LoopOptions", "LoopThreads", "Plan", "plan_loops", "run_loops", "run_service"]
