"""EventBridge schedule expressions: parse once, then ask for the next fire times.

``parse_schedule("cron(0 1 ? * MON *)")`` or ``parse_schedule("rate(5 minutes)",
anchor=...)`` accepts exactly what an EventBridge rule accepts (the AWS
"schedule expressions" reference) and raises ``ScheduleError`` for anything it
would reject. All instants are timezone-aware UTC; naive datetimes are refused
rather than guessed at, because a naive ``datetime.now()`` is local time.
"""

from __future__ import annotations

import abc
import datetime as dt
import itertools
import re
from collections.abc import Iterator

from localbridge.instants import require_aware
from localbridge.schedules.errors import ScheduleError
from localbridge.schedules.evaluate import CronEvaluator
from localbridge.schedules.parse import CronSpec, parse_cron_fields

__all__ = ["CronSchedule", "RateSchedule", "Schedule", "ScheduleError", "parse_schedule"]

UTC = dt.UTC
_CRON = re.compile(r"cron\((.*)\)", re.DOTALL)
_RATE = re.compile(r"rate\((.*)\)", re.DOTALL)
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


class Schedule(abc.ABC):
    """A parsed schedule expression."""

    expression: str

    def next_fire_times(self, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
        """The next ``count`` fire instants strictly after ``after``, UTC.

        Fewer, or none, when the schedule ends (a cron year range that runs out).
        """
        if count < 0:
            raise ValueError(f"count must be zero or more, got {count}")
        return list(itertools.islice(self.iter_fire_times(after), count))

    @abc.abstractmethod
    def iter_fire_times(self, after: dt.datetime) -> Iterator[dt.datetime]:
        """Every fire instant strictly after ``after``, ascending, UTC (lazy)."""

    @abc.abstractmethod
    def describe(self) -> str:
        """A short English description, e.g. "At 01:00, only on Monday"."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expression!r})"


class CronSchedule(Schedule):
    """``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, minute precision."""

    def __init__(self, expression: str, spec: CronSpec, fields: tuple[str, ...]) -> None:
        self.expression = expression
        self.spec = spec
        self.fields = fields
        # The first selected minute strictly after a UTC instant.
        self._first_after = CronEvaluator(spec).first_after

    def next_fire_times(self, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
        if count == 1 and after.tzinfo is UTC:  # what a scheduler asks, in one call
            moment = self._first_after(after)
            return [] if moment is None else [moment]
        if count < 0:
            raise ValueError(f"count must be zero or more, got {count}")
        found: list[dt.datetime] = []
        moment = self._first_after(require_aware(after, "after"))
        while moment is not None and len(found) < count:
            found.append(moment)
            moment = self._first_after(moment) if len(found) < count else None
        return found

    def iter_fire_times(self, after: dt.datetime) -> Iterator[dt.datetime]:
        # The first instant is found here, not in the generator, so a naive
        # ``after`` fails at the call rather than at the first next().
        return self._chain(self._first_after(require_aware(after, "after")))

    def _chain(self, moment: dt.datetime | None) -> Iterator[dt.datetime]:
        while moment is not None:
            yield moment
            moment = self._first_after(moment)

    def describe(self) -> str:
        from localbridge.schedules.describe import describe_cron

        return describe_cron(self.fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronSchedule) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)


class RateSchedule(Schedule):
    """``rate(Value Unit)``: fires at anchor + k x interval for k >= 1.

    EventBridge anchors a rate at the rule's creation; without an ``anchor``
    every call anchors at its own ``after``, so the first instant is after +
    interval.
    """

    def __init__(
        self, expression: str, interval: dt.timedelta, anchor: dt.datetime | None = None
    ) -> None:
        self.expression = expression
        self.interval = interval
        self.anchor = None if anchor is None else require_aware(anchor, "anchor")

    def next_fire_times(self, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
        if count < 0:
            raise ValueError(f"count must be zero or more, got {count}")
        anchor, steps = self._first_step(after)
        found: list[dt.datetime] = []
        for k in range(steps, steps + count):
            try:
                found.append(anchor + k * self.interval)
            except OverflowError:
                break
        return found

    def iter_fire_times(self, after: dt.datetime) -> Iterator[dt.datetime]:
        return self._fire_times(*self._first_step(after))

    def _first_step(self, after: dt.datetime) -> tuple[dt.datetime, int]:
        """The anchor and the k of the first instant anchor + k x interval after ``after``."""
        if after.tzinfo is not UTC:  # UTC, the common case, needs no conversion
            after = require_aware(after, "after")
        anchor = after if self.anchor is None else self.anchor
        return anchor, 1 if after < anchor else (after - anchor) // self.interval + 1

    def _fire_times(self, anchor: dt.datetime, steps: int) -> Iterator[dt.datetime]:
        for k in itertools.count(steps):
            try:
                yield anchor + k * self.interval
            except OverflowError:
                return

    def describe(self) -> str:
        seconds = int(self.interval.total_seconds())
        for unit, size in sorted(_RATE_UNITS.items(), key=lambda item: -item[1]):
            if seconds % size == 0:
                value = seconds // size
                return f"Every {unit}" if value == 1 else f"Every {value} {unit}s"
        raise AssertionError(f"unexpected interval {self.interval}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RateSchedule) and (other.interval, other.anchor) == (
            self.interval,
            self.anchor,
        )

    def __hash__(self) -> int:
        return hash((self.interval, self.anchor))


def parse_schedule(expr: str, anchor: dt.datetime | None = None) -> Schedule:
    """Parse an EventBridge schedule expression; ``anchor`` applies to rates only."""
    if not isinstance(expr, str):
        raise ScheduleError(repr(expr), "a schedule expression must be a string")
    if cron := _CRON.fullmatch(expr):
        fields = tuple(cron.group(1).split())
        return CronSchedule(expr, parse_cron_fields(expr, cron.group(1)), fields)
    if rate := _RATE.fullmatch(expr):
        return RateSchedule(expr, _parse_rate(expr, rate.group(1)), anchor)
    raise ScheduleError(
        expr,
        "expected cron(Minutes Hours Day-of-month Month Day-of-week Year) "
        "or rate(Value Unit), e.g. cron(0 12 * * ? *) or rate(5 minutes)",
    )


def _parse_rate(expr: str, body: str) -> dt.timedelta:
    parts = body.split()
    if len(parts) != 2:
        raise ScheduleError(expr, "rate needs a value and a unit, e.g. rate(5 minutes)")
    value_text, unit = parts
    if not re.fullmatch(r"[0-9]+", value_text) or int(value_text) == 0:
        raise ScheduleError(expr, f"rate value must be a positive whole number, got {value_text!r}")
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS or unit not in (singular, singular + "s"):
        raise ScheduleError(expr, f"unknown rate unit {unit!r} (use minute(s), hour(s) or day(s))")
    if value == 1 and unit != singular:
        raise ScheduleError(expr, f"use the singular {singular!r} when the value is 1")
    if value > 1 and unit == singular:
        raise ScheduleError(
            expr, f"use the plural {singular + 's'!r} when the value is greater than 1"
        )
    return dt.timedelta(seconds=value * _RATE_UNITS[singular])
