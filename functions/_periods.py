"""Reporting periods derived from a scheduled event's time, the jobs' only clock.

Bounds are text in the stored format (``YYYY-MM-DD``) and half-open, so
``timestamp >= start AND timestamp < end`` selects whole days of
``YYYY-MM-DD HH:MM:SS[.ffffff]`` values and an index on ``timestamp`` serves it.
A ``T``-separated ISO bound would compare wrongly against the stored text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


class EventTimeError(ValueError):
    """The event's ``time`` is not an ISO 8601 instant with a zone."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days ``first_day`` .. ``last_day`` (inclusive)."""

    first_day: date
    last_day: date

    @property
    def start(self) -> str:
        """Inclusive lower bound on ``timestamp``."""
        return self.first_day.isoformat()

    @property
    def end(self) -> str:
        """Exclusive upper bound on ``timestamp``: the day after ``last_day``."""
        return (self.last_day + timedelta(days=1)).isoformat()

    @property
    def week_label(self) -> str:
        """ISO week label of ``first_day``, e.g. ``2022-W50``."""
        year, week, _ = self.first_day.isocalendar()
        return f"{year}-W{week:02d}"


def event_instant(event_time: str) -> datetime:
    """The event's ``time`` (e.g. ``2022-12-19T01:00:00Z``) as an aware UTC datetime."""
    try:
        instant = datetime.fromisoformat(event_time)
    except (TypeError, ValueError):
        raise EventTimeError(
            f"event time {event_time!r} is not ISO 8601; expected e.g. 2022-12-19T01:00:00Z"
        ) from None
    if instant.tzinfo is None:
        raise EventTimeError(
            f"event time {event_time!r} has no zone; expected UTC, e.g. 2022-12-19T01:00:00Z"
        )
    return instant.astimezone(UTC)


def previous_day(event_time: str) -> Period:
    """The UTC day before the event's UTC day."""
    day = event_instant(event_time).date() - timedelta(days=1)
    return Period(day, day)


def previous_iso_week(event_time: str) -> Period:
    """The complete ISO week (Monday .. Sunday) before the event's ISO week."""
    today = event_instant(event_time).date()
    this_monday = today - timedelta(days=today.isoweekday() - 1)
    last_monday = this_monday - timedelta(days=7)
    return Period(last_monday, last_monday + timedelta(days=6))
