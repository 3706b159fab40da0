"""Enumerate the instants a parsed cron expression selects, in order."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Iterator

from localbridge.schedules.parse import CronSpec

UTC = dt.UTC


class CronEvaluator:
    """Walks years, months, days, hours and minutes of a ``CronSpec``.

    The selected days of a month are computed once per (year, month) and kept,
    because the day rules (``L``, ``W``, ``#``) depend on the calendar only.
    """

    def __init__(self, spec: CronSpec) -> None:
        self._spec = spec
        self._days: dict[tuple[int, int], tuple[int, ...]] = {}

    def days(self, year: int, month: int) -> tuple[int, ...]:
        key = (year, month)
        days = self._days.get(key)
        if days is None:
            days = self._days[key] = self._spec.day_rule.days(year, month)
        return days

    def fire_times_from(self, start: dt.datetime) -> Iterator[dt.datetime]:
        """Every selected minute at or after ``start`` (UTC, whole minute), ascending."""
        spec = self._spec
        for year in spec.years[bisect_left(spec.years, start.year) :]:
            in_start_year = year == start.year
            for month in spec.months:
                if in_start_year and month < start.month:
                    continue
                in_start_month = in_start_year and month == start.month
                for day in self.days(year, month):
                    if in_start_month and day < start.day:
                        continue
                    in_start_day = in_start_month and day == start.day
                    yield from self._times_of_day(year, month, day, start if in_start_day else None)

    def _times_of_day(
        self, year: int, month: int, day: int, start: dt.datetime | None
    ) -> Iterator[dt.datetime]:
        spec = self._spec
        for hour in spec.hours:
            if start is not None and hour < start.hour:
                continue
            in_start_hour = start is not None and hour == start.hour
            for minute in spec.minutes:
                if in_start_hour and start is not None and minute < start.minute:
                    continue
                yield dt.datetime(year, month, day, hour, minute, tzinfo=UTC)
