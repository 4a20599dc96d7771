"""Clearing-cycle cut-offs: parsing and the next / last cut-off around any moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnbridge.domain.schedule import CycleSchedule, ScheduleError

T = datetime(2026, 11, 29, 10, 30, tzinfo=UTC)
SCHEDULES = ["daily 02:00", "02:00,14:00", "every 15m", "every 6h", "every 30s", "23:59"]
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


def test_a_daily_cut_off_falls_at_its_time_today_or_tomorrow() -> None:
    daily = CycleSchedule.parse("daily 02:00")
    assert daily.next_after(T) == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    assert daily.last_at_or_before(T) == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    assert daily.next_after(datetime(2026, 11, 29, 1, 0, tzinfo=UTC)) == datetime(
        2026, 11, 29, 2, 0, tzinfo=UTC
    )


def test_an_interval_counts_from_midnight() -> None:
    assert CycleSchedule.parse("every 6h").next_after(T) == datetime(2026, 11, 29, 12, tzinfo=UTC)
    assert CycleSchedule.parse("every 15m").next_after(T) == T + timedelta(minutes=15)


def test_a_missed_cut_off_makes_a_cycle_due_at_once() -> None:
    daily = CycleSchedule.parse("02:00")
    yesterday_run = datetime(2026, 11, 28, 2, 0, 5, tzinfo=UTC)
    assert daily.due(yesterday_run, T)  # today's 02:00 passed while the service was down
    assert not daily.due(datetime(2026, 11, 29, 2, 0, 5, tzinfo=UTC), T)
    assert daily.due(None, T)


@pytest.mark.parametrize(
    "text", ["", "daily", "25:00", "every 7m", "every 0s", "every 2d", "02:00,noon", "every 25h"]
)
def test_a_schedule_that_cannot_be_read_says_what_was_expected(text: str) -> None:
    with pytest.raises(ScheduleError, match="schedule"):
        CycleSchedule.parse(text)


@given(st.sampled_from(SCHEDULES), moments)
def test_no_cut_off_lies_between_a_moment_and_the_next(text: str, moment: datetime) -> None:
    schedule = CycleSchedule.parse(text)
    after = schedule.next_after(moment)
    before = schedule.last_at_or_before(moment)
    assert before <= moment < after <= moment + timedelta(days=1)
    assert schedule.last_at_or_before(after) == after  # the next cut-off is a cut-off
    assert schedule.next_after(before) == after  # and nothing lies in between
