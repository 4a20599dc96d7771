"""Alert rules over the state of the database: which conditions fire now, and with what figures.

The store gathers the facts (``AlertFacts``) in one read; these rules compare them with the
configured thresholds. Every threshold is a limit that may be reached: an alert fires only when
a figure goes *past* it (a depth limit of 100 fires at 101). Each alert carries a ``key`` that
names the condition while it lasts (``QUEUE_DEPTH:inbox``, ``UNMAPPED_CODE:UNMAPPED_REASON:99``),
so the ``alerts`` table keeps one row per condition and notifies once, however often it is
evaluated.

Pure: the caller passes the facts, the thresholds and the time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from returnbridge.domain.credits import CreditRow
from returnbridge.domain.errors import ExceptionCode
from returnbridge.domain.schedule import CycleSchedule
from returnbridge.services.alerts import RUNBOOK, Alert

INBOX = "inbox"
AMAZON = "amazon"
ERP = "erp"

# The exception codes that mean "a code came in that the catalog or the mappings do not know":
# each distinct code seen is its own alert, linked to the code's own runbook section.
UNMAPPED_CODES = (
    ExceptionCode.UNKNOWN_SKU,
    ExceptionCode.UNMAPPED_REASON,
    ExceptionCode.UNMAPPED_GRADE,
    ExceptionCode.UNMAPPED_DISPOSITION,
    ExceptionCode.UNMAPPED_CHARGE,
)

# Every alert these rules can raise, with its severity: the runbook table lists the same.
RULES: dict[str, str] = {
    "QUEUE_DEPTH": "warning",
    "QUEUE_AGE": "warning",  # critical for the inbox: nothing is being processed
    "AMAZON_REJECTION_RATE": "warning",
    "UNMAPPED_CODE": "warning",
    "CREDIT_PENDING_AGED": "warning",
    "RFS_NOT_RECEIVED": "warning",
    "PARTNER_UNREACHABLE": "critical",
    "SYNC_LAG": "warning",
    "STOCK_HELD": "warning",
}


@dataclass(frozen=True)
class QueueFacts:
    """One queue: the inbox, or the outbox messages of one topic."""

    queue: str
    depth: int  # pending
    oldest: datetime | None  # when the oldest pending item was stored


@dataclass(frozen=True)
class UnmappedCode:
    """Open exceptions of one unmapped-code kind for one code as received."""

    code: str  # the exception code, e.g. UNMAPPED_REASON
    value: str  # the code as ZigZag sent it: a reason id, a scanned SKU, a grade ...
    open: int


@dataclass(frozen=True)
class StockHold:
    """Stock positions held back from Amazon for one cause at one Amazon warehouse (or, for
    ``UNMAPPED_WAREHOUSE``, one ZigZag DC)."""

    code: str  # STOCK_SNAPSHOT_MISSING, STOCK_SNAPSHOT_STALE, STOCK_DROP_HELD, UNMAPPED_WAREHOUSE
    scope: str  # the Amazon warehouse id, or the DC code
    positions: int  # positions held (for a DC: the changes waiting)


@dataclass(frozen=True)
class CreditAge:
    """Credit still pending (not cleared by Amazon) on return lines of one age and currency."""

    currency: str
    age_days: int  # whole days since the goods came back to the warehouse
    lines: int
    amount: int  # minor units


@dataclass(frozen=True)
class AlertFacts:
    """What the rules look at, read from the database in one transaction."""

    inbox: QueueFacts
    outbox: tuple[QueueFacts, ...] = ()
    amazon_accepted: int = 0  # changes for Amazon it accepted within the rejection window
    amazon_rejected: int = 0  # ... and rejected
    unmapped: tuple[UnmappedCode, ...] = ()
    pending_credits: tuple[CreditAge, ...] = ()
    rfs_not_received: int = 0  # open RFS_NOT_RECEIVED exceptions
    amazon_unsent: int = 0  # submissions prepared for Amazon and not sent
    amazon_unsent_since: datetime | None = None  # when the oldest of them was prepared
    erp_undelivered: int = 0  # ERP batches whose delivery was tried and failed
    erp_undelivered_batch: str | None = None  # the oldest of them
    amazon_oldest_change: datetime | None = None  # oldest change Amazon has not confirmed
    last_cycle_closed: datetime | None = None
    stock_holds: tuple[StockHold, ...] = ()


@dataclass(frozen=True)
class AlertThresholds:
    inbox_depth: int = 5_000
    inbox_age: timedelta = timedelta(minutes=15)
    outbox_depth: int = 10_000
    outbox_age: timedelta = timedelta(days=2)
    rejection_rate: float = 0.05
    rejection_window: timedelta = timedelta(hours=24)
    pending_credit_days: int = 30
    sync_lag: timedelta = timedelta(hours=25)
    unreachable_after: timedelta = timedelta(minutes=15)


def credit_ages(rows: Iterable[CreditRow], now: datetime) -> tuple[CreditAge, ...]:
    """Pending credit per currency and whole days since the goods came back, from the credit
    report's rows (disputed money is not pending: it waits on a person, not on time)."""
    lines: dict[tuple[str, int], int] = defaultdict(int)
    amounts: dict[tuple[str, int], int] = defaultdict(int)
    for row in rows:
        if row.pending <= 0:
            continue
        returned = row.line.returned_at
        days = max(0, (now - returned).days) if returned else 0
        lines[(row.line.currency, days)] += 1
        amounts[(row.line.currency, days)] += row.pending
    return tuple(
        CreditAge(currency, days, lines[(currency, days)], amounts[(currency, days)])
        for currency, days in sorted(lines)
    )


def sync_lag_limit(schedule: CycleSchedule, grace: timedelta) -> timedelta:
    """How long a change may wait for Amazon: the longest gap between two cut-offs of the
    schedule (a change made just after one waits for the next), plus ``grace`` for the cycle
    itself to send and confirm."""
    offsets = sorted(schedule.offsets)
    day = timedelta(days=1)
    gaps = [b - a for a, b in pairwise(offsets)]
    gaps.append(offsets[0] + day - offsets[-1])  # from the last cut-off to the next day's first
    return max(gaps) + grace


def evaluate(facts: AlertFacts, limits: AlertThresholds, now: datetime) -> list[Alert]:
    """Every condition firing now, one alert per key, in key order."""
    alerts = [
        *_queues(facts, limits, now),
        *_rejection_rate(facts, limits),
        *_unmapped(facts),
        *_pending_credits(facts, limits),
        *_rfs(facts),
        *_unreachable(facts, limits, now),
        *_sync_lag(facts, limits, now),
        *_stock_holds(facts),
    ]
    return sorted(alerts, key=lambda a: a.key)


def _queues(facts: AlertFacts, limits: AlertThresholds, now: datetime) -> list[Alert]:
    found = []
    for queue in (facts.inbox, *facts.outbox):
        inbox = queue.queue == INBOX
        depth_limit, age_limit = (
            (limits.inbox_depth, limits.inbox_age)
            if inbox
            else (limits.outbox_depth, limits.outbox_age)
        )
        what = "inbox event(s)" if inbox else f"{queue.queue} outbox message(s)"
        if queue.depth > depth_limit:
            found.append(
                _alert(
                    "QUEUE_DEPTH",
                    queue.queue,
                    f"{queue.depth} {what} pending (limit {depth_limit})",
                )
            )
        if queue.depth and queue.oldest is not None and now - queue.oldest > age_limit:
            found.append(
                _alert(
                    "QUEUE_AGE",
                    queue.queue,
                    f"the oldest of {queue.depth} pending {what} has waited "
                    f"{_duration(now - queue.oldest)} (limit {_duration(age_limit)})",
                    severity="critical" if inbox else "warning",
                )
            )
    return found


def _rejection_rate(facts: AlertFacts, limits: AlertThresholds) -> list[Alert]:
    answered = facts.amazon_accepted + facts.amazon_rejected
    if not answered or facts.amazon_rejected / answered <= limits.rejection_rate:
        return []
    return [
        _alert(
            "AMAZON_REJECTION_RATE",
            "",
            f"Amazon rejected {facts.amazon_rejected} of {answered} change(s) answered in the "
            f"last {_duration(limits.rejection_window)} "
            f"({facts.amazon_rejected / answered:.1%}, limit {limits.rejection_rate:.1%})",
        )
    ]


def _unmapped(facts: AlertFacts) -> list[Alert]:
    return [
        Alert(
            "UNMAPPED_CODE",
            RULES["UNMAPPED_CODE"],
            f"{u.open} open {u.code} exception(s) for {_label(u.code)} {u.value!r}",
            f"{RUNBOOK}#{u.code.lower()}",
            key=f"UNMAPPED_CODE:{u.code}:{u.value}",
        )
        for u in facts.unmapped
        if u.open > 0 and u.code in UNMAPPED_CODES
    ]


_HELD_BECAUSE = {
    ExceptionCode.STOCK_SNAPSHOT_MISSING: "no stock snapshot",
    ExceptionCode.STOCK_SNAPSHOT_STALE: "a stale stock snapshot",
    ExceptionCode.STOCK_DROP_HELD: "a drop beyond the guard, waiting for a person",
}


def _stock_holds(facts: AlertFacts) -> list[Alert]:
    """One alert per cause and warehouse (or DC), never one per SKU."""
    found = []
    for hold in facts.stock_holds:
        if hold.code == ExceptionCode.UNMAPPED_WAREHOUSE:
            summary = (
                f"ZigZag DC {hold.scope} has {hold.positions} stock change(s) and no Amazon "
                "warehouse in the warehouses file: nothing is sent for it"
            )
        else:
            summary = (
                f"{hold.positions} stock position(s) at Amazon warehouse {hold.scope} held: "
                f"{_HELD_BECAUSE[ExceptionCode(hold.code)]}"
            )
        found.append(
            Alert(
                "STOCK_HELD",
                RULES["STOCK_HELD"],
                summary,
                f"{RUNBOOK}#{hold.code.lower()}",
                key=f"STOCK_HELD:{hold.code}:{hold.scope}",
            )
        )
    return found


def _label(code: str) -> str:
    return {
        ExceptionCode.UNKNOWN_SKU: "SKU",
        ExceptionCode.UNMAPPED_REASON: "reason code",
        ExceptionCode.UNMAPPED_GRADE: "grade",
        ExceptionCode.UNMAPPED_DISPOSITION: "disposition code",
        ExceptionCode.UNMAPPED_CHARGE: "charge type",
    }.get(ExceptionCode(code), "code")


def _pending_credits(facts: AlertFacts, limits: AlertThresholds) -> list[Alert]:
    old = [c for c in facts.pending_credits if c.age_days > limits.pending_credit_days and c.lines]
    if not old:
        return []
    amounts: dict[str, int] = defaultdict(int)
    for credit in old:
        amounts[credit.currency] += credit.amount
    money = ", ".join(
        f"{currency} {_money(amount)}" for currency, amount in sorted(amounts.items())
    )
    return [
        _alert(
            "CREDIT_PENDING_AGED",
            "",
            f"{sum(c.lines for c in old)} return line(s) have credit pending for more than "
            f"{limits.pending_credit_days} day(s) ({money}); the oldest came back "
            f"{max(c.age_days for c in old)} day(s) ago",
        )
    ]


def _rfs(facts: AlertFacts) -> list[Alert]:
    if not facts.rfs_not_received:
        return []
    return [
        _alert(
            "RFS_NOT_RECEIVED",
            "",
            f"{facts.rfs_not_received} return(s) refunded at first scan have not reached the "
            "warehouse within the window",
        )
    ]


def _unreachable(facts: AlertFacts, limits: AlertThresholds, now: datetime) -> list[Alert]:
    found = []
    since = facts.amazon_unsent_since
    if facts.amazon_unsent and since is not None and now - since > limits.unreachable_after:
        found.append(
            _alert(
                "PARTNER_UNREACHABLE",
                AMAZON,
                f"Amazon unreachable: {facts.amazon_unsent} request(s) prepared "
                f"{_duration(now - since)} ago are still not sent; they go unchanged at the "
                "next clearing cycle",
            )
        )
    if facts.erp_undelivered:
        found.append(
            _alert(
                "PARTNER_UNREACHABLE",
                ERP,
                f"ERP unreachable: {facts.erp_undelivered} journal batch(es) could not be "
                f"delivered (oldest {facts.erp_undelivered_batch}); the files are written, "
                "delivery is tried again at the next `export erp`",
            )
        )
    return found


def _sync_lag(facts: AlertFacts, limits: AlertThresholds, now: datetime) -> list[Alert]:
    oldest = facts.amazon_oldest_change
    if oldest is None or now - oldest <= limits.sync_lag:
        return []
    closed = facts.last_cycle_closed
    last = f"{closed:%Y-%m-%d %H:%M} UTC" if closed else "never"
    return [
        _alert(
            "SYNC_LAG",
            "",
            f"Amazon is {_duration(now - oldest)} behind: the oldest change it has not "
            f"confirmed dates from {oldest:%Y-%m-%d %H:%M} UTC (limit {_duration(limits.sync_lag)}"
            f"); last clearing cycle closed: {last}",
        )
    ]


def _alert(name: str, scope: str, summary: str, severity: str | None = None) -> Alert:
    return Alert(
        name,
        severity or RULES[name],
        summary,
        f"{RUNBOOK}#{name.lower()}",
        key=f"{name}:{scope}" if scope else name,
    )


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86_400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86_400} days {seconds % 86_400 // 3600} h"


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


__all__ = [
    "RULES",
    "UNMAPPED_CODES",
    "AlertFacts",
    "AlertThresholds",
    "CreditAge",
    "QueueFacts",
    "UnmappedCode",
    "credit_ages",
    "evaluate",
    "sync_lag_limit",
]
