"""Parse the six fields of an AWS cron expression into typed, validated sets.

Grammar per field (the AWS EventBridge reference): ``,`` lists, ``-`` ranges
(wrap-around like ``20-2`` or ``NOV-FEB`` allowed except for years), ``*``,
``/`` steps (``0/15`` means 0, 15, 30, 45), ``?`` in one day field, ``L``,
``W``, ``LW`` and ``L-n`` in day-of-month, ``L`` and ``#`` in day-of-week. Anything else is a
``ScheduleError`` naming the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from localbridge.schedules.days import (
    DayRule,
    DaysBeforeLastDay,
    DaysOfMonth,
    DaysOfWeek,
    LastDayOfMonth,
    LastWeekdayOfMonth,
    LastWeekdayOfMonthDay,
    NearestWeekday,
    NthWeekdayOfMonth,
)
from localbridge.schedules.errors import ScheduleError

FIELD_NAMES = "Minutes Hours Day-of-month Month Day-of-week Year"
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

_NUMBER = re.compile(r"[0-9]+")
_WORD = re.compile(r"[0-9A-Za-z]+")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    low: int
    high: int
    hint: str
    """How the allowed values read in messages, e.g. ``1-7 or SUN-SAT (1=SUN)``."""
    wildcards: str
    """The special characters AWS allows in this field."""
    names: Mapping[str, int] = field(default_factory=dict)
    wraps: bool = True
    """Whether ``high-low`` ranges wrap around (``20-2``); years do not."""
    max_step: int | None = None
    """The largest increment after ``/`` (Quartz's bounds, which EventBridge applies)."""


MINUTES = FieldSpec("minutes", 0, 59, "0-59", ",-*/", max_step=59)
HOURS = FieldSpec("hours", 0, 23, "0-23", ",-*/", max_step=23)
DAY_OF_MONTH = FieldSpec("day-of-month", 1, 31, "1-31", ",-*?/LW", max_step=31)
MONTH = FieldSpec(
    "month",
    1,
    12,
    "1-12 or JAN-DEC",
    ",-*/",
    {n: i for i, n in enumerate(MONTH_NAMES, 1)},
    max_step=12,
)
DAY_OF_WEEK = FieldSpec(
    "day-of-week",
    1,
    7,
    "1-7 (1=SUN) or SUN-SAT",
    ",-*?L#",
    {n: i for i, n in enumerate(WEEKDAY_NAMES, 1)},
)
YEAR = FieldSpec("year", 1970, 2199, "1970-2199", ",-*/", wraps=False)


@dataclass(frozen=True)
class CronSpec:
    """A parsed cron expression: allowed values per field, ascending."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_rule: DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]


def parse_cron_fields(expression: str, body: str) -> CronSpec:
    """Parse the text between ``cron(`` and ``)``; ``expression`` is only for messages."""
    parts = body.split()
    if len(parts) != 6:
        raise ScheduleError(expression, f"cron needs 6 fields ({FIELD_NAMES}), got {len(parts)}")
    minutes, hours, dom, month, dow, year = parts
    parser = _FieldParser(expression)
    return CronSpec(
        minutes=tuple(sorted(parser.values(MINUTES, minutes))),
        hours=tuple(sorted(parser.values(HOURS, hours))),
        day_rule=parser.day_rule(dom, dow),
        months=tuple(sorted(parser.values(MONTH, month))),
        years=tuple(sorted(parser.values(YEAR, year))),
    )


@dataclass(frozen=True)
class _FieldParser:
    expression: str

    def fail(self, spec: FieldSpec, problem: str) -> ScheduleError:
        return ScheduleError(self.expression, f"{spec.name}: {problem}")

    def check_wildcards(self, spec: FieldSpec, text: str) -> None:
        for char in text:
            if not char.isascii() or not (char.isalnum() or char in spec.wildcards):
                allowed = " ".join(spec.wildcards)
                raise self.fail(spec, f"{char!r} is not allowed here (wildcards: {allowed})")

    def values(self, spec: FieldSpec, text: str) -> frozenset[int]:
        """Lists, ranges, steps, names and ``*`` (no ``?``, ``L``, ``W``, ``#``)."""
        self.check_wildcards(spec, text)
        if "?" in text:
            raise self.fail(spec, f"'?' is only allowed alone, in a day field, got {text!r}")
        selected: set[int] = set()
        for item in text.split(","):
            selected.update(self.item(spec, item, text))
        return frozenset(selected)

    def item(self, spec: FieldSpec, item: str, text: str) -> list[int]:
        if not item:
            raise self.fail(spec, f"empty element in list {text!r}")
        base, slash, step_text = item.partition("/")
        step = self.step(spec, step_text, item) if slash else 1
        if base == "*":
            start, end = spec.low, spec.high
        elif "-" in base:
            start_text, _, end_text = base.partition("-")
            start, end = self.value(spec, start_text), self.value(spec, end_text)
            if start > end and not spec.wraps:
                raise self.fail(spec, f"range {base!r} goes backwards")
        else:
            start = self.value(spec, base)
            # AWS reads "0/15" as "from 0, every 15"; a bare value is itself.
            end = spec.high if slash else start
        return self.expand(spec, start, end)[::step]

    def step(self, spec: FieldSpec, text: str, item: str) -> int:
        if not _NUMBER.fullmatch(text) or int(text) == 0:
            raise self.fail(spec, f"step in {item!r} must be a positive whole number")
        if spec.max_step is not None and int(text) > spec.max_step:
            raise self.fail(spec, f"step in {item!r} must be at most {spec.max_step}")
        return int(text)

    def value(self, spec: FieldSpec, text: str) -> int:
        if _NUMBER.fullmatch(text):
            number = int(text)
            if not spec.low <= number <= spec.high:
                raise self.fail(spec, f"{number} is out of range {spec.hint}")
            return number
        if _WORD.fullmatch(text) and text.upper() in spec.names:
            return spec.names[text.upper()]
        if not text:
            raise self.fail(spec, "a range or step is missing a value")
        raise self.fail(spec, f"unknown value {text!r} (use {spec.hint})")

    @staticmethod
    def expand(spec: FieldSpec, start: int, end: int) -> list[int]:
        if start <= end:
            return list(range(start, end + 1))
        return list(range(start, spec.high + 1)) + list(range(spec.low, end + 1))

    def day_rule(self, dom: str, dow: str) -> DayRule:
        if (dom == "?") == (dow == "?"):
            given = "both are '?'" if dom == "?" else f"got {dom!r} and {dow!r}"
            raise ScheduleError(
                self.expression,
                "cron: specify either day-of-month or day-of-week and set the other to '?' "
                f"({given})",
            )
        return self.day_of_week(dow) if dom == "?" else self.day_of_month(dom)

    def day_of_month(self, text: str) -> DayRule:
        self.check_wildcards(DAY_OF_MONTH, text)
        if text == "L":
            return LastDayOfMonth()
        if text == "LW":
            return LastWeekdayOfMonthDay()
        if text.startswith("L-") and "," not in text:
            return DaysBeforeLastDay(self.offset_from_last_day(text))
        if text.endswith("W") and _NUMBER.fullmatch(text[:-1]):
            return NearestWeekday(self.value(DAY_OF_MONTH, text[:-1]))
        if "L" in text or "W" in text:
            raise self.fail(
                DAY_OF_MONTH,
                f"{text!r}: L (last day), LW (last weekday), L-n (n days before the last day, "
                "e.g. L-3) and nW (nearest weekday, e.g. 15W) must stand alone",
            )
        return DaysOfMonth(self.values(DAY_OF_MONTH, text))

    def offset_from_last_day(self, text: str) -> int:
        """The n of ``L-n``: 1-30, Quartz's bounds (the 31st is at most 30 days before)."""
        offset = text.removeprefix("L-")
        if not _NUMBER.fullmatch(offset) or not 1 <= int(offset) <= 30:
            raise self.fail(
                DAY_OF_MONTH,
                f"{text!r}: the offset in L-n is a whole number of days 1-30 (e.g. L-3, three "
                "days before the last day of the month)",
            )
        return int(offset)

    def day_of_week(self, text: str) -> DayRule:
        self.check_wildcards(DAY_OF_WEEK, text)
        if text == "L":  # AWS: L alone is the last day of the week, Saturday.
            return DaysOfWeek(frozenset({7}))
        if "#" in text:
            return self.nth_weekday(text)
        if text.endswith("L") and "," not in text and "-" not in text:
            return LastWeekdayOfMonth(self.value(DAY_OF_WEEK, text[:-1]))
        # No weekday name contains an L, so any other L is a misplaced wildcard.
        if "L" in text:
            raise self.fail(DAY_OF_WEEK, f"{text!r}: L and nL (e.g. 6L) must stand alone")
        return DaysOfWeek(self.values(DAY_OF_WEEK, text))

    def nth_weekday(self, text: str) -> DayRule:
        if "," in text or text.count("#") > 1:
            raise self.fail(
                DAY_OF_WEEK, f"only one expression is allowed when '#' is used, got {text!r}"
            )
        weekday_text, _, nth_text = text.partition("#")
        weekday = self.value(DAY_OF_WEEK, weekday_text)
        if not _NUMBER.fullmatch(nth_text) or not 1 <= int(nth_text) <= 5:
            raise self.fail(DAY_OF_WEEK, f"{text!r}: the occurrence after '#' must be 1-5")
        return NthWeekdayOfMonth(weekday, int(nth_text))
