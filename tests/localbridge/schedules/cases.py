"""Helpers for the schedule tables: instants written as short ISO strings, UTC."""

from __future__ import annotations

import datetime as dt

from localbridge import parse_schedule


def utc(text: str) -> dt.datetime:
    """``"2022-12-19T01:00"`` -> that instant in UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def fire_times(expression: str, after: str, count: int) -> list[str]:
    """The next ``count`` instants as ``YYYY-MM-DDTHH:MM`` strings (seconds checked zero)."""
    instants = parse_schedule(expression).next_fire_times(utc(after), count)
    for instant in instants:
        assert instant.tzinfo is dt.UTC
        assert (instant.second, instant.microsecond) == (0, 0)
    return [instant.strftime("%Y-%m-%dT%H:%M") for instant in instants]
