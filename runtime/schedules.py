"""A scheduled job's schedule: five-field cron syntax, read as Toolforge's jobs framework
and cron read it, and which minute is due.

Fields: minute (0–59), hour (0–23), day of the month (1–31), month (1–12 or `jan`–`dec`)
and day of the week (0–7, both 0 and 7 Sunday, or `sun`–`sat`). Each is `*`, a value, a
range `a-b`, a step `*/n` or `a-b/n`, or a list of those separated by commas. As in cron,
when both the day of the month and the day of the week are restricted, a day matching
either is due. The macros `@hourly`, `@daily`, `@weekly`, `@monthly` and `@yearly` (or
`@annually`) get a fixed minute, hour and day chosen from the job's name, so that a
thousand `@daily` jobs do not all start at midnight; the same name always gets the same
times. Times are UTC, to the minute.

`Schedule.next_after(t)` is the first due minute after `t`; `Schedule.latest(t)` the last
due minute at or before `t`. A controller that remembers the tick it last ran starts a
job when `latest(now)` is newer: a tick missed while everything was down runs once
afterwards, however many were missed, never a storm. A bad expression is a
`ScheduleError` saying which field is wrong and why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from policies.errors import Refusal

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# name, lowest, highest, names (the first name is worth `lowest`)
FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of the month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of the week", 0, 7, DAYS),
)
MACROS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually")
# Far enough to find the next 29 February (eight years apart across 2100).
HORIZON_DAYS = 366 * 9


class ScheduleError(Refusal, ValueError):
    """A schedule that cannot be read; the message names the field and what is wrong."""


@dataclass(frozen=True)
class Schedule:
    """A schedule, read: the due values of each field, and the expression it came from
    (a macro written out as the five fields it stands for)."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday (a 7 was read as 0)
    days_restricted: bool
    weekdays_restricted: bool

    def due_on(self, day: date) -> bool:
        """Whether any minute of `day` is due."""
        if day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_weekday = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return by_date or by_weekday
        return by_date and by_weekday

    def due_at(self, moment: datetime) -> bool:
        """Whether the minute of `moment` is due."""
        moment = _utc(moment)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and self.due_on(moment.date())
        )

    def next_after(self, moment: datetime) -> datetime:
        """The first due minute strictly after `moment`."""
        start = _utc(moment).replace(second=0, microsecond=0) + timedelta(minutes=1)
        found = next(self._due_from(start, 1), None)
        if found is None:
            raise ScheduleError(f"schedule {self.expression!r} is never due")
        return found

    def latest(self, moment: datetime) -> datetime | None:
        """The last due minute at or before `moment`; None if there is none in the
        years before it."""
        return next(self._due_from(_utc(moment).replace(second=0, microsecond=0), -1), None)

    def _due_from(self, start: datetime, direction: int) -> Iterator[datetime]:
        """The due minutes from `start` (included), forward in time (`direction` 1) or
        backward (-1), as far as the horizon."""
        backward = direction < 0
        for day in _days(start.date(), direction):
            if not self.due_on(day):
                continue
            for hour in sorted(self.hours, reverse=backward):
                for minute in sorted(self.minutes, reverse=backward):
                    due = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                    if (due <= start) if backward else (due >= start):
                        yield due


def parse(expression: str, job: str) -> Schedule:
    """Read `expression` for the job named `job` (whose name places a macro's times)."""
    text = " ".join(expression.split())
    if text.lower() in MACROS:
        text = _expand(text.lower(), job)
    elif text.startswith("@"):
        raise ScheduleError(
            f"schedule {expression!r}: unknown macro (use five fields or one of "
            f"{', '.join(MACROS)})"
        )
    fields = text.split(" ")
    if len(fields) != 5:
        raise ScheduleError(
            f"schedule {expression!r}: expected five fields (minute hour day-of-month month "
            f"day-of-week), got {len(fields)}"
        )
    values = [_field(part, spec, expression) for part, spec in zip(fields, FIELDS, strict=True)]
    weekdays = frozenset(0 if day == 7 else day for day in values[4])
    schedule = Schedule(
        expression=text,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        days_restricted=fields[2] != "*",
        weekdays_restricted=fields[4] != "*",
    )
    if not any(schedule.due_on(day) for day in _leap_year()):
        raise ScheduleError(f"schedule {expression!r} is never due (no such day)")
    return schedule


def _expand(macro: str, job: str) -> str:
    """A macro as five fields, its times drawn from the job's name."""
    seed = int.from_bytes(hashlib.sha256(job.encode("utf-8")).digest()[:8], "big")
    minute, hour = seed % 60, (seed // 60) % 24
    day, weekday, month = (seed // 1440) % 28 + 1, (seed // 40320) % 7, (seed // 282240) % 12 + 1
    return {
        "@hourly": f"{minute} * * * *",
        "@daily": f"{minute} {hour} * * *",
        "@weekly": f"{minute} {hour} * * {weekday}",
        "@monthly": f"{minute} {hour} {day} * *",
        "@yearly": f"{minute} {hour} {day} {month} *",
        "@annually": f"{minute} {hour} {day} {month} *",
    }[macro]


def _field(
    part: str, spec: tuple[str, int, int, tuple[str, ...]], expression: str
) -> frozenset[int]:
    name, low, high, names = spec
    found: set[int] = set()
    for item in part.split(","):
        span, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(
                    f"schedule {expression!r}: {name} step {step_text!r} is not a whole "
                    "number above 0"
                )
            step = int(step_text)
        if span == "*":
            first, last = low, high
        elif "-" in span:
            left, _, right = span.partition("-")
            first = _value(left, spec, expression)
            last = _value(right, spec, expression)
            if first > last:
                raise ScheduleError(
                    f"schedule {expression!r}: {name} range {span!r} runs backwards"
                )
        else:
            first = _value(span, spec, expression)
            last = high if step_text else first
        found.update(range(first, last + 1, step))
    return frozenset(found)


def _value(text: str, spec: tuple[str, int, int, tuple[str, ...]], expression: str) -> int:
    name, low, high, names = spec
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + low
    if not text.isdigit():
        raise ScheduleError(f"schedule {expression!r}: {name} {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise ScheduleError(f"schedule {expression!r}: {name} {value} is out of range {low}-{high}")
    return value


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a schedule's times are UTC: give an aware datetime")
    return moment.astimezone(UTC)


def _days(start: date, direction: int) -> Iterator[date]:
    day = start
    for _ in range(HORIZON_DAYS):
        yield day
        day += timedelta(days=direction)


def _leap_year() -> Iterator[date]:
    """Every day of a leap year: when a schedule restricts only one of the two day fields,
    whether a day is due depends on its month and that field alone, and every month of a
    year holds every weekday; when it restricts both, any day of either is due."""
    day = date(2024, 1, 1)
    while day.year == 2024:
        yield day
        day += timedelta(days=1)
