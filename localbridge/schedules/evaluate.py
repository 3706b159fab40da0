"""The next instant a parsed cron expression selects, found by jumping.

A scheduler asks one question again and again: the first selected minute at or
after a given one. Stepping through minutes (or even hours) one at a time makes
that cost grow with the gap between fires; here each field is a precomputed
table instead, ``upto[v]`` = the smallest allowed value >= v (or -1), so every
field is settled by one lookup and a field that runs out carries into the next
one up. Days come from the day rule, once per (year, month), and are searched
the same way. A call costs a handful of lookups whatever the schedule.
"""

from __future__ import annotations

import datetime as dt

from localbridge.schedules.parse import CronSpec

UTC = dt.UTC
_NONE = -1
# AWS's years; a table slot per year.
FIRST_YEAR, LAST_YEAR = 1970, 2199


def _upto_table(allowed: tuple[int, ...], high: int) -> tuple[int, ...]:
    """``table[v]`` = smallest allowed value >= v, for v in 0..high+1 (-1: none left).

    One slot past ``high`` lets a carry (minute 60, hour 24, month 13) read
    "none left" instead of needing a bounds check.
    """
    table = [_NONE] * (high + 2)
    following = _NONE
    for value in range(high + 1, -1, -1):
        if value in allowed:
            following = value
        table[value] = following
    return tuple(table)


class CronEvaluator:
    """``first_at_or_after`` for one ``CronSpec``.

    The selected days of a month are computed once per (year, month) and kept
    as a table like the others, because the day rules (``L``, ``W``, ``#``)
    depend on the calendar only.
    """

    def __init__(self, spec: CronSpec) -> None:
        self._spec = spec
        self._minutes = _upto_table(spec.minutes, 59)
        self._hours = _upto_table(spec.hours, 23)
        self._months = _upto_table(spec.months, 12)
        self._years = _upto_table(tuple(y - FIRST_YEAR for y in spec.years), LAST_YEAR - FIRST_YEAR)
        self._first_minute = spec.minutes[0]
        self._day_tables: dict[int, tuple[int, ...]] = {}

    def _day_table(self, year: int, month: int) -> tuple[int, ...]:
        key = year * 16 + month
        table = self._day_tables.get(key)
        if table is None:
            days = self._spec.day_rule.days(year, month)
            table = self._day_tables[key] = _upto_table(days, 31)
        return table

    def first_after(self, after: dt.datetime) -> dt.datetime | None:
        """The first selected minute strictly after ``after`` (UTC), or None when none is left.

        It starts from the minute after the one ``after`` falls in; a field may
        overflow by one (minute 60, hour 24, day 32, month 13), which reads as
        "the start of the next hour/day/month/year". One loop settles the
        fields from the year down; a field with nothing left carries into the
        one above and the loop goes round again.
        """
        year, month, day, hour = after.year, after.month, after.day, after.hour
        minute = after.minute + 1
        years, months, hours, minutes = self._years, self._months, self._hours, self._minutes
        first_minute = self._first_minute
        if year < FIRST_YEAR:
            year, month, day, hour, minute = FIRST_YEAR, 1, 1, 0, 0
        while year <= LAST_YEAR:
            y = years[year - FIRST_YEAR] + FIRST_YEAR
            if y < FIRST_YEAR:  # no selected year left
                return None
            if y != year:
                year, month, day, hour, minute = y, 1, 1, 0, 0
            mo = months[month]
            if mo < 0:
                year, month, day, hour, minute = year + 1, 1, 1, 0, 0
                continue
            if mo != month:
                month, day, hour, minute = mo, 1, 0, 0
            days = self._day_tables.get(year * 16 + month) or self._day_table(year, month)
            # Within the month, day by selected day, without going back up.
            while (d := days[day]) >= 0:
                if d != day:
                    day, hour, minute = d, 0, 0
                h = hours[hour]
                m = minutes[minute] if h == hour else first_minute
                if m < 0:  # no selected minute left in that hour: the next hour's first
                    h, m = hours[h + 1], first_minute
                if h >= 0:
                    return dt.datetime(year, month, day, h, m, tzinfo=UTC)
                day, hour, minute = day + 1, 0, 0
            month, day, hour, minute = month + 1, 1, 0, 0
        return None
