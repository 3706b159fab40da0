"""Rate schedules fire at anchor + k x interval, k >= 1."""

from __future__ import annotations

import datetime as dt

import pytest

from localbridge import parse_schedule
from localbridge.schedules.expressions import CronSchedule, RateSchedule
from tests.localbridge.schedules.cases import utc

# (expression, anchor, after, expected instants)
ANCHORED = [
    # The first fire is one interval after the anchor, not at it.
    (
        "rate(5 minutes)",
        "2022-12-18T23:59",
        "2022-12-18T23:59",
        ["2022-12-19T00:04", "2022-12-19T00:09"],
    ),
    # After exactly on a fire time: strictly after.
    ("rate(5 minutes)", "2022-12-18T00:00", "2022-12-18T00:10", ["2022-12-18T00:15"]),
    ("rate(5 minutes)", "2022-12-18T00:00", "2022-12-18T00:14:59", ["2022-12-18T00:15"]),
    # After before the anchor: the first fire is still anchor + interval.
    ("rate(5 minutes)", "2022-12-18T00:00", "2022-01-01T00:00", ["2022-12-18T00:05"]),
    ("rate(1 minute)", "2022-12-31T23:58:30", "2022-12-31T23:59", ["2022-12-31T23:59:30"]),
    ("rate(1 hour)", "2022-12-18T10:30:15", "2022-12-18T12:00", ["2022-12-18T12:30:15"]),
    (
        "rate(1 day)",
        "2024-02-27T12:00",
        "2024-02-27T12:00",
        ["2024-02-28T12:00", "2024-02-29T12:00", "2024-03-01T12:00"],
    ),
    ("rate(2 days)", "2022-12-30T00:00", "2022-12-31T00:00", ["2023-01-01T00:00"]),
    # Rates do not stop at 2199, as cron years do.
    ("rate(365 days)", "2199-06-01T00:00", "2199-06-01T00:00", ["2200-06-01T00:00"]),
]


@pytest.mark.parametrize(("expression", "anchor", "after", "expected"), ANCHORED)
def test_anchored_rates(expression: str, anchor: str, after: str, expected: list[str]) -> None:
    schedule = parse_schedule(expression, anchor=utc(anchor))
    assert schedule.next_fire_times(utc(after), len(expected)) == [utc(e) for e in expected]


def test_unanchored_rate_counts_from_after() -> None:
    schedule = parse_schedule("rate(1 hour)")
    after = utc("2022-12-18T10:30:15")
    expected = [utc("2022-12-18T11:30:15"), utc("2022-12-18T12:30:15")]
    assert schedule.next_fire_times(after, 2) == expected


def test_rate_near_the_end_of_time_returns_fewer() -> None:
    schedule = parse_schedule("rate(1 day)", anchor=utc("9999-12-29T00:00"))
    assert schedule.next_fire_times(utc("9999-12-29T00:00"), 5) == [
        utc("9999-12-30T00:00"),
        utc("9999-12-31T00:00"),
    ]


def test_rate_parts_and_types() -> None:
    schedule = parse_schedule("rate(90 minutes)")
    assert isinstance(schedule, RateSchedule)
    assert schedule.interval == dt.timedelta(minutes=90)
    assert schedule.anchor is None
    assert isinstance(parse_schedule("cron(0 1 ? * MON *)"), CronSchedule)


def test_naive_anchor_is_refused() -> None:
    with pytest.raises(ValueError, match="anchor must be timezone-aware"):
        parse_schedule("rate(5 minutes)", anchor=dt.datetime(2022, 12, 18))


def test_anchor_in_another_zone_is_the_same_instant() -> None:
    plus_one = dt.timezone(dt.timedelta(hours=1))
    schedule = parse_schedule("rate(1 hour)", anchor=dt.datetime(2022, 12, 18, 1, tzinfo=plus_one))
    assert schedule.next_fire_times(utc("2022-12-18T00:00")) == [utc("2022-12-18T01:00")]
    assert schedule.next_fire_times(utc("2022-12-18T00:00"))[0].tzinfo is dt.UTC


def test_equal_schedules_compare_equal() -> None:
    anchor = utc("2022-12-18T00:00")
    assert parse_schedule("rate(5 minutes)", anchor) == parse_schedule("rate(5 minutes)", anchor)
    assert parse_schedule("rate(60 minutes)") == parse_schedule("rate(1 hour)")
    assert parse_schedule("rate(5 minutes)") != parse_schedule("rate(5 minutes)", anchor)
    assert parse_schedule("cron(0 1 ? * MON *)") == parse_schedule("cron(0 1 ? * 2 *)")
    assert parse_schedule("cron(0 1 ? * MON *)") != parse_schedule("cron(0 2 ? * MON *)")
