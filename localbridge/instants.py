"""Instants: the one way localbridge reads and writes a point in time.

The policy, in one place: every instant inside localbridge is timezone-aware
UTC. A naive ``datetime`` handed to the library (a schedule's ``after`` or
``anchor``, a scheduled event's time, the ledger) is refused with a
``ValueError``, because a naive ``datetime.now()`` is local time and guessing
would fire jobs hours off. What a person *types* is different: the CLI
promises that a time written without a zone (``--clock-start 2022-12-19``)
is UTC, and a clock's start follows the CLI (``utc``).

Four spellings, each for its reader:

- ``format_instant``/``parse_instant``: the ledger's fixed-width text, which
  sorts as time does (microseconds always written);
- ``display_instant``: logs and tables, seconds (microseconds when present);
- ``whole_seconds``: EventBridge's event ``time`` and ``localbridge next``;
- ``parse_user_instant``: ISO-8601 as a person writes it.

Standard library only: worker processes and ``schedules`` import it.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "UTC",
    "display_instant",
    "display_optional",
    "format_instant",
    "parse_instant",
    "parse_optional",
    "parse_user_instant",
    "require_aware",
    "utc",
    "whole_seconds",
]


def require_aware(moment: datetime, name: str) -> datetime:
    """``moment`` in UTC; a naive one is refused, naming the argument."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware, got naive {moment.isoformat()} (no timezone); "
            "pass e.g. datetime(..., tzinfo=timezone.utc)"
        )
    return moment.astimezone(UTC)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC, a naive one taken to be UTC (what a person typed)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_user_instant(text: str) -> datetime:
    """An ISO-8601 instant as a person writes it (``Z`` allowed); without a zone, UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 time, e.g. 2022-12-19T00:05:00Z") from None
    value = utc(value)
    # EventBridge schedules know the years 1970-2199; beyond them instants
    # stop fitting datetime arithmetic (0001-01-01 minus a microsecond).
    if not 1970 <= value.year <= 2199:
        raise ValueError(f"{text!r}: expected a time in the years 1970 to 2199, as AWS schedules")
    return value


_MICROSECONDS = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"
_SECONDS = "%04d-%02d-%02dT%02d:%02d:%02dZ"


def format_instant(moment: datetime) -> str:
    """The ledger's text: fixed-width UTC with microseconds, which sorts as time does."""
    if moment.tzinfo is UTC:  # the common case, written per ledger row: no conversion
        # ``isoformat(timespec="microseconds")``'s text, in half its time.
        return _MICROSECONDS % (
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
            moment.microsecond,
        )
    naive = require_aware(moment, "instant").replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "Z"


def parse_instant(text: str) -> datetime:
    """The inverse of ``format_instant``."""
    return datetime.fromisoformat(text)


def parse_optional(text: str | None) -> datetime | None:
    return None if text is None else parse_instant(text)


def whole_seconds(moment: datetime) -> str:
    """``2022-12-19T00:05:00Z``: EventBridge's ``time`` field (UTC, whole seconds)."""
    m = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return _SECONDS % (m.year, m.month, m.day, m.hour, m.minute, m.second)


def display_instant(moment: datetime) -> str:
    """An instant as people read it in logs: seconds, or microseconds when present."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def display_optional(moment: datetime | None) -> str | None:
    return None if moment is None else display_instant(moment)
