"""Clearing-cycle cut-offs: when the day's changes go to Amazon.

A schedule is written as operations people say it, in UTC:

- ``daily 02:00`` (or just ``02:00``), or several times a day: ``02:00,14:00``;
- ``every 15m``, ``every 6h``, ``every 30s``: intervals counted from midnight UTC, so the
  cut-offs fall at the same clock times every day (``every 6h``: 00:00, 06:00, 12:00, 18:00).

Pure: the caller gives the times; nothing here reads a clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

_DAY = timedelta(days=1)
_EVERY = re.compile(r"^every\s+(\d+)\s*([smh])$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


class ScheduleError(ValueError):
    """A schedule that cannot be read, with what was expected."""


@dataclass(frozen=True)
class CycleSchedule:
    """Cut-offs as offsets from midnight UTC, repeating every day."""

    offsets: tuple[timedelta, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> CycleSchedule:
        spec = " ".join(text.strip().lower().split())
        every = _EVERY.match(spec)
        if every:
            step = timedelta(seconds=int(every[1]) * _UNITS[every[2]])
            if not timedelta(0) < step <= _DAY or _DAY % step:
                raise ScheduleError(
                    f"schedule {text!r}: the interval must divide a day evenly "
                    "(e.g. every 15m, every 6h)"
                )
            return cls(tuple(step * n for n in range(_DAY // step)), text)
        times = spec.removeprefix("daily").strip()
        offsets = set()
        for part in times.split(","):
            found = _TIME.match(part.strip())
            if not found:
                raise ScheduleError(
                    f"schedule {text!r}: expected 'daily HH:MM[,HH:MM...]' or 'every N(s|m|h)', "
                    f"got {part.strip()!r}"
                )
            offsets.add(timedelta(hours=int(found[1]), minutes=int(found[2])))
        return cls(tuple(sorted(offsets)), text)

    def next_after(self, moment: datetime) -> datetime:
        """The first cut-off strictly after ``moment``."""
        midnight = _midnight(moment)
        for day in (midnight, midnight + _DAY):
            for offset in self.offsets:
                if day + offset > moment:
                    return day + offset
        raise AssertionError("a schedule has at least one cut-off a day")  # pragma: no cover

    def last_at_or_before(self, moment: datetime) -> datetime:
        """The latest cut-off at or before ``moment``."""
        midnight = _midnight(moment)
        for day in (midnight, midnight - _DAY):
            for offset in reversed(self.offsets):
                if day + offset <= moment:
                    return day + offset
        raise AssertionError("a schedule has at least one cut-off a day")  # pragma: no cover

    def due(self, last_cycle: datetime | None, now: datetime) -> bool:
        """Whether a cut-off passed since the last cycle started (or none ever ran): a cut-off
        missed while the service was down is caught up at once."""
        return last_cycle is None or self.last_at_or_before(now) > last_cycle


def _midnight(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("cut-offs are computed on aware datetimes (UTC)")
    utc = moment.astimezone(UTC)
    return datetime.combine(utc.date(), time(0), tzinfo=UTC)
