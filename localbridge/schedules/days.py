"""Which days of a month a cron expression's day fields select.

AWS reads day-of-month *or* day-of-week (the other is ``?``), never both, so one
rule decides the days of each month. Day-of-week numbers are AWS's: 1=SUN..7=SAT.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Protocol


def month_length(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def aws_weekday(year: int, month: int, day: int) -> int:
    """AWS day-of-week of a date: 1=SUN, 2=MON, ..., 7=SAT."""
    return (dt.date(year, month, day).weekday() + 1) % 7 + 1


class DayRule(Protocol):
    def days(self, year: int, month: int) -> tuple[int, ...]:
        """The selected days of that month, ascending."""
        ...


@dataclass(frozen=True)
class DaysOfMonth:
    """Listed days (``1,15``, ``1-10``, ``*``); days a month lacks never fire."""

    values: frozenset[int]

    def days(self, year: int, month: int) -> tuple[int, ...]:
        last = month_length(year, month)
        return tuple(d for d in sorted(self.values) if d <= last)


@dataclass(frozen=True)
class LastDayOfMonth:
    """``L`` in day-of-month."""

    def days(self, year: int, month: int) -> tuple[int, ...]:
        return (month_length(year, month),)


@dataclass(frozen=True)
class DaysBeforeLastDay:
    """``L-3`` in day-of-month: three days before the last day (Quartz's offset from L).

    A month too short for the offset (``L-30`` in February) does not fire, as
    Quartz skips it.
    """

    offset: int

    def days(self, year: int, month: int) -> tuple[int, ...]:
        day = month_length(year, month) - self.offset
        return (day,) if day >= 1 else ()


@dataclass(frozen=True)
class LastWeekdayOfMonthDay:
    """``LW`` in day-of-month: the last weekday (MON-FRI) of the month."""

    def days(self, year: int, month: int) -> tuple[int, ...]:
        last = month_length(year, month)
        weekday = aws_weekday(year, month, last)
        # A Saturday last day goes back one day to Friday, a Sunday two.
        return (last - {7: 1, 1: 2}.get(weekday, 0),)


@dataclass(frozen=True)
class NearestWeekday:
    """``15W``: the weekday (MON-FRI) nearest that day, never leaving the month.

    A Saturday moves back to Friday unless that leaves the month (the 1st moves
    on to Monday the 3rd); a Sunday moves on to Monday unless that leaves the
    month (the last day moves back to Friday). A day the month lacks never fires,
    as a plain ``31`` would not.
    """

    day: int

    def days(self, year: int, month: int) -> tuple[int, ...]:
        last = month_length(year, month)
        if self.day > last:
            return ()
        weekday = aws_weekday(year, month, self.day)
        if weekday == 7:  # Saturday
            return (self.day - 1,) if self.day > 1 else (self.day + 2,)
        if weekday == 1:  # Sunday
            return (self.day + 1,) if self.day < last else (self.day - 2,)
        return (self.day,)


@dataclass(frozen=True)
class DaysOfWeek:
    """Listed weekdays (``MON-FRI``, ``2,4``, ``*``, ``L`` = SAT)."""

    values: frozenset[int]

    def days(self, year: int, month: int) -> tuple[int, ...]:
        first = aws_weekday(year, month, 1)
        return tuple(
            d
            for d in range(1, month_length(year, month) + 1)
            if (first + d - 2) % 7 + 1 in self.values
        )


@dataclass(frozen=True)
class LastWeekdayOfMonth:
    """``6L``: the last Friday of the month."""

    weekday: int

    def days(self, year: int, month: int) -> tuple[int, ...]:
        last = month_length(year, month)
        back = (aws_weekday(year, month, last) - self.weekday) % 7
        return (last - back,)


@dataclass(frozen=True)
class NthWeekdayOfMonth:
    """``3#2``: the second Tuesday; a month without a fifth one does not fire."""

    weekday: int
    nth: int

    def days(self, year: int, month: int) -> tuple[int, ...]:
        first = (self.weekday - aws_weekday(year, month, 1)) % 7 + 1
        day = first + 7 * (self.nth - 1)
        return (day,) if day <= month_length(year, month) else ()
