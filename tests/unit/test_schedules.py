"""A scheduled job's cron schedule: read as cron reads it, its macros spread by the job's
name, every bad expression refused naming what is wrong, and the due minutes — next and
latest — the same as a minute-by-minute walk finds."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from policies.errors import Refusal
from runtime.schedules import ScheduleError, parse

T = datetime(2026, 12, 7, 10, 30, 15, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("expression", "field", "expected"),
    [
        ("*/15 * * * *", "minutes", {0, 15, 30, 45}),
        ("5,10-12 * * * *", "minutes", {5, 10, 11, 12}),
        ("0 9-17/4 * * *", "hours", {9, 13, 17}),
        ("0 0 1 jan,JUL *", "months", {1, 7}),
        ("0 0 * * mon-fri", "weekdays", {1, 2, 3, 4, 5}),
        ("0 0 * * 7", "weekdays", {0}),
        ("0 0 * * 0,7", "weekdays", {0}),
        ("5/20 * * * *", "minutes", {5, 25, 45}),
        ("0 0 * dec-dec *", "months", {12}),
    ],
)
def test_fields_read_as_cron_reads_them(expression: str, field: str, expected: set[int]) -> None:
    assert getattr(parse(expression, "job"), field) == expected


def test_a_macro_is_spread_by_the_jobs_name_and_kept() -> None:
    daily = {parse("@daily", f"job-{n}").expression for n in range(200)}
    assert len(daily) > 150  # not all at midnight
    assert parse("@daily", "citation-bot") == parse("@DAILY", "citation-bot")
    weekly = parse("@weekly", "citation-bot")
    assert len(weekly.minutes) == len(weekly.hours) == len(weekly.weekdays) == 1
    monthly = parse("@monthly", "citation-bot")
    assert max(monthly.days) <= 28  # due every month, February too
    assert parse("@annually", "x").expression == parse("@yearly", "x").expression
    hourly = parse("@hourly", "x")
    assert len(hourly.minutes) == 1 and len(hourly.hours) == 24


@pytest.mark.parametrize(
    ("expression", "said"),
    [
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("* 24 * * *", "hour 24 is out of range 0-23"),
        ("* * 0 * *", "day of the month 0 is out of range 1-31"),
        ("* * * 13 *", "month 13 is out of range 1-12"),
        ("* * * * 8", "day of the week 8 is out of range 0-7"),
        ("* * * * *  *", "expected five fields"),
        ("* * *", "expected five fields"),
        ("*/0 * * * *", "step '0' is not a whole number above 0"),
        ("10-5 * * * *", "range '10-5' runs backwards"),
        ("x * * * *", "minute 'x' is not a number"),
        ("* * * smarch *", "month 'smarch' is not a number"),
        ("@reboot", "unknown macro"),
        ("0 0 31 feb *", "is never due"),
        ("0 0 30 2 *", "is never due"),
        ("", "expected five fields"),
    ],
)
def test_a_bad_expression_is_refused_naming_what_is_wrong(expression: str, said: str) -> None:
    with pytest.raises(ScheduleError, match=said.replace("(", r"\(").replace(")", r"\)")):
        parse(expression, "job")
    assert issubclass(ScheduleError, Refusal)


def test_both_day_fields_restricted_means_either() -> None:
    # Cron: the 1st of the month, and every Monday.
    schedule = parse("0 12 1 * mon", "job")
    assert schedule.next_after(T) == datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # Monday
    assert schedule.next_after(datetime(2026, 12, 7, 13, tzinfo=UTC)) == datetime(
        2026, 12, 14, 12, 0, tzinfo=UTC
    )
    assert schedule.due_at(datetime(2027, 1, 1, 12, 0, tzinfo=UTC))  # a Friday, the 1st


def test_the_29th_of_february_is_found_years_ahead() -> None:
    schedule = parse("0 0 29 2 *", "job")
    assert schedule.next_after(T) == datetime(2028, 2, 29, tzinfo=UTC)
    assert schedule.latest(T) == datetime(2024, 2, 29, tzinfo=UTC)


def _walk(
    due: Callable[[datetime], bool], start: datetime, step: int, limit: int
) -> datetime | None:
    moment = start
    for _ in range(limit):
        if due(moment):
            return moment
        moment += timedelta(minutes=step)
    return None


@pytest.mark.parametrize("seed", range(24))
def test_next_and_latest_agree_with_a_minute_by_minute_walk(seed: int) -> None:
    rng = random.Random(seed)

    def part(low: int, high: int) -> str:
        kind = rng.randrange(4)
        if kind == 0:
            return "*"
        a = rng.randint(low, high)
        b = rng.randint(a, high)
        return [f"{a}", f"{a}-{b}", f"*/{rng.randint(1, 7)}", f"{a}-{b}/{rng.randint(1, 3)}"][kind]

    # Every month, so that a tick is never more than a month away from the walk.
    expression = " ".join([part(0, 59), part(0, 23), part(1, 28), "*", part(0, 6)])
    schedule = parse(expression, "job")
    start = T + timedelta(minutes=rng.randrange(100_000))
    minute = start.replace(second=0, microsecond=0)
    walked_next = _walk(schedule.due_at, minute + timedelta(minutes=1), 1, 60 * 24 * 40)
    walked_latest = _walk(schedule.due_at, minute, -1, 60 * 24 * 40)
    assert schedule.next_after(start) == walked_next, expression
    assert schedule.latest(start) == walked_latest, expression


def test_ticks_missed_while_down_run_once() -> None:
    """A controller that ran the 10:00 tick and comes back at 13:07 runs the 13:00 tick
    once, not the three it missed; at 13:30 nothing more is due."""
    schedule = parse("0 * * * *", "job")
    last_run = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    back = datetime(2026, 12, 7, 13, 7, tzinfo=UTC)
    due = schedule.latest(back)
    assert due == datetime(2026, 12, 7, 13, 0, tzinfo=UTC) and due > last_run
    assert schedule.latest(datetime(2026, 12, 7, 13, 30, tzinfo=UTC)) == due  # ran: nothing new


def test_times_are_utc_and_must_say_so() -> None:
    schedule = parse("0 0 * * *", "job")
    with pytest.raises(ValueError, match="UTC"):
        schedule.next_after(datetime(2026, 12, 7))
