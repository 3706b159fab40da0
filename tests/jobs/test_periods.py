"""Periods from the event time: ISO weeks, UTC days, and the text bounds used in SQL."""

from __future__ import annotations

from datetime import date

import pytest

from functions._periods import EventTimeError, Period, previous_day, previous_iso_week

WEEKS = [
    # event time, week label, first day, last day
    ("2022-12-19T01:00:00Z", "2022-W50", date(2022, 12, 12), date(2022, 12, 18)),
    ("2022-12-25T23:59:59Z", "2022-W50", date(2022, 12, 12), date(2022, 12, 18)),
    ("2022-12-18T23:59:59Z", "2022-W49", date(2022, 12, 5), date(2022, 12, 11)),
    # 2021 has 52 ISO weeks; 2022-01-02 (Sunday) still belongs to 2021-W52.
    ("2022-01-03T01:00:00Z", "2021-W52", date(2021, 12, 27), date(2022, 1, 2)),
    ("2022-01-02T01:00:00Z", "2021-W51", date(2021, 12, 20), date(2021, 12, 26)),
    # 2020 has 53 ISO weeks; its last one ends on 2021-01-03.
    ("2021-01-04T01:00:00Z", "2020-W53", date(2020, 12, 28), date(2021, 1, 3)),
    ("2021-01-11T01:00:00Z", "2021-W01", date(2021, 1, 4), date(2021, 1, 10)),
    # 2024-12-30 (Monday) starts 2025-W01, so the week before is 2024-W52.
    ("2025-01-01T00:00:00Z", "2024-W52", date(2024, 12, 23), date(2024, 12, 29)),
    # Offsets are converted to UTC first: this is Monday 00:30 UTC.
    ("2022-12-18T23:30:00-01:00", "2022-W50", date(2022, 12, 12), date(2022, 12, 18)),
    ("2022-12-19T00:30:00+01:00", "2022-W49", date(2022, 12, 5), date(2022, 12, 11)),
]


@pytest.mark.parametrize(("event_time", "label", "first", "last"), WEEKS)
def test_previous_iso_week(event_time: str, label: str, first: date, last: date) -> None:
    week = previous_iso_week(event_time)
    assert (week.week_label, week.first_day, week.last_day) == (label, first, last)
    assert first.isoweekday() == 1
    assert (last - first).days == 6


DAYS = [
    ("2022-12-22T00:05:00Z", date(2022, 12, 21)),
    ("2022-12-22T23:59:59Z", date(2022, 12, 21)),
    ("2023-01-01T00:05:00Z", date(2022, 12, 31)),
    ("2024-03-01T00:05:00Z", date(2024, 2, 29)),
    ("2023-03-01T00:05:00Z", date(2023, 2, 28)),
    ("2022-12-22T00:05:00.123Z", date(2022, 12, 21)),
    ("2022-12-21T23:05:00-02:00", date(2022, 12, 21)),
]


@pytest.mark.parametrize(("event_time", "day"), DAYS)
def test_previous_day(event_time: str, day: date) -> None:
    period = previous_day(event_time)
    assert (period.first_day, period.last_day) == (day, day)


BOUNDARY_TIMESTAMPS = [
    # stored text, inside the week 2022-12-12 .. 2022-12-18?
    ("2022-12-11 23:59:59.999999", False),
    ("2022-12-12 00:00:00", True),
    ("2022-12-12 00:00:00.000000", True),
    ("2022-12-15 12:00:00.500000", True),
    ("2022-12-18 23:59:59", True),
    ("2022-12-18 23:59:59.999999", True),
    ("2022-12-19 00:00:00", False),
    ("2022-12-19 00:00:00.000000", False),
]


@pytest.mark.parametrize(("stored", "inside"), BOUNDARY_TIMESTAMPS)
def test_text_bounds_select_whole_days_of_stored_timestamps(stored: str, inside: bool) -> None:
    week = Period(date(2022, 12, 12), date(2022, 12, 18))
    assert (week.start, week.end) == ("2022-12-12", "2022-12-19")
    assert (week.start <= stored < week.end) is inside


@pytest.mark.parametrize(
    "bad", ["", "yesterday", "2022-12-19", "2022-12-19T01:00:00", "2022-13-01T00:00:00Z"]
)
def test_event_time_without_zone_or_malformed_is_rejected_by_name(bad: str) -> None:
    with pytest.raises(EventTimeError, match="event time"):
        previous_iso_week(bad)
