"""Cron fire times, from the AWS reference's examples and hand-worked calendars.

Each row: (expression, after, expected instants). The number of instants asked
for is ``len(expected)`` unless the row says otherwise (schedules that end).
"""

from __future__ import annotations

import datetime as dt

import pytest

from localbridge import parse_schedule
from tests.localbridge.schedules.cases import fire_times, utc

# The examples table of the AWS EventBridge "cron expressions" reference.
# 2022-12-16 is a Friday, 2022-12-19 a Monday.
AWS_EXAMPLES = [
    # Run at 10:00 am (UTC) every day; `after` exactly on a fire time.
    ("cron(0 10 * * ? *)", "2022-12-18T10:00", ["2022-12-19T10:00", "2022-12-20T10:00"]),
    # Run at 12:15 pm (UTC) every day.
    ("cron(15 12 * * ? *)", "2022-12-18T12:14", ["2022-12-18T12:15", "2022-12-19T12:15"]),
    # Run at 6:00 pm (UTC) every Monday through Friday.
    ("cron(0 18 ? * MON-FRI *)", "2022-12-16T18:00", ["2022-12-19T18:00", "2022-12-20T18:00"]),
    # Run at 8:00 am (UTC) every 1st day of the month.
    ("cron(0 8 1 * ? *)", "2022-12-01T08:00", ["2023-01-01T08:00", "2023-02-01T08:00"]),
    # Run every 15 minutes, across a year end.
    (
        "cron(0/15 * * * ? *)",
        "2022-12-31T23:50",
        ["2023-01-01T00:00", "2023-01-01T00:15", "2023-01-01T00:30"],
    ),
    # Run every 10 minutes Monday through Friday.
    (
        "cron(0/10 * ? * MON-FRI *)",
        "2022-12-16T23:45",
        ["2022-12-16T23:50", "2022-12-19T00:00", "2022-12-19T00:10"],
    ),
    # Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC).
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        "2022-12-16T17:50",
        ["2022-12-16T17:55", "2022-12-19T08:00", "2022-12-19T08:05"],
    ),
    # Run every 30 minutes Monday through Friday between 10:00 pm and 2:00 am:
    # the hours wrap around midnight and each instant's own day must be MON-FRI,
    # so the early hours of Saturday and Sunday do not fire.
    (
        "cron(0/30 20-2 ? * MON-FRI *)",
        "2022-12-16T23:30",
        [
            "2022-12-19T00:00",
            "2022-12-19T00:30",
            "2022-12-19T01:00",
            "2022-12-19T01:30",
            "2022-12-19T02:00",
            "2022-12-19T02:30",
            "2022-12-19T20:00",
        ],
    ),
    # Run at 9:00 am (UTC) on the first Monday of each month.
    ("cron(0 9 ? * 2#1 *)", "2022-12-18T00:00", ["2023-01-02T09:00", "2023-02-06T09:00"]),
]

# The two shipped jobs.
SHIPPED_JOBS = [
    (
        "cron(0 1 ? * MON *)",
        "2022-12-18T23:59",
        ["2022-12-19T01:00", "2022-12-26T01:00", "2023-01-02T01:00"],
    ),
    ("cron(5 0 * * ? *)", "2022-12-18T23:59", ["2022-12-19T00:05", "2022-12-20T00:05"]),
    ("cron(5 0 * * ? *)", "2022-12-19T00:05", ["2022-12-20T00:05"]),
]

LISTS_RANGES_STEPS_NAMES = [
    (
        "cron(0,30 9,17 * * ? *)",
        "2022-12-18T09:00",
        ["2022-12-18T09:30", "2022-12-18T17:00", "2022-12-18T17:30", "2022-12-19T09:00"],
    ),
    # 1/10: every tenth minute from minute 1.
    ("cron(1/10 10 * * ? *)", "2022-12-18T10:41", ["2022-12-18T10:51", "2022-12-19T10:01"]),
    ("cron(0 */8 * * ? *)", "2022-12-18T16:00", ["2022-12-19T00:00", "2022-12-19T08:00"]),
    (
        "cron(10-40/15 3 * * ? *)",
        "2022-12-18T03:10",
        ["2022-12-18T03:25", "2022-12-18T03:40", "2022-12-19T03:10"],
    ),
    (
        "cron(0 0 1 1/3 ? *)",
        "2022-11-15T00:00",
        ["2023-01-01T00:00", "2023-04-01T00:00", "2023-07-01T00:00", "2023-10-01T00:00"],
    ),
    ("cron(0 0 1 1 ? 2020/5)", "2022-01-01T00:00", ["2025-01-01T00:00", "2030-01-01T00:00"]),
    # Names in any case; Sundays of January and March 2023.
    (
        "cron(0 12 ? jan,Mar sun 2023)",
        "2023-01-22T12:00",
        ["2023-01-29T12:00", "2023-03-05T12:00", "2023-03-12T12:00"],
    ),
    # Wrap-around ranges: months, weekdays, hours, minutes.
    (
        "cron(0 0 1 NOV-FEB ? *)",
        "2022-12-01T00:00",
        ["2023-01-01T00:00", "2023-02-01T00:00", "2023-11-01T00:00"],
    ),
    (
        "cron(0 12 ? * FRI-MON *)",
        "2022-12-20T00:00",
        [
            "2022-12-23T12:00",
            "2022-12-24T12:00",
            "2022-12-25T12:00",
            "2022-12-26T12:00",
            "2022-12-30T12:00",
        ],
    ),
    (
        "cron(0 22-1 * * ? *)",
        "2022-12-31T21:00",
        [
            "2022-12-31T22:00",
            "2022-12-31T23:00",
            "2023-01-01T00:00",
            "2023-01-01T01:00",
            "2023-01-01T22:00",
        ],
    ),
    ("cron(50-5/5 0 * * ? *)", "2022-12-18T00:00", ["2022-12-18T00:05", "2022-12-18T00:50"]),
    # Numeric day-of-week is 1=SUN..7=SAT (LocalStack reads it one day late).
    ("cron(0 0 ? * 1 *)", "2022-12-18T00:00", ["2022-12-25T00:00"]),
    ("cron(0 0 ? * 7 *)", "2022-12-18T00:00", ["2022-12-24T00:00"]),
    ("cron(0 0 ? * 2-6 *)", "2022-12-23T00:00", ["2022-12-26T00:00"]),
    # Every minute.
    ("cron(* * * * ? *)", "2022-12-31T23:58", ["2022-12-31T23:59", "2023-01-01T00:00"]),
]

MONTH_AND_YEAR_ENDS = [
    # The 31st skips the months that lack it.
    (
        "cron(0 0 31 * ? *)",
        "2023-01-31T00:00",
        ["2023-03-31T00:00", "2023-05-31T00:00", "2023-07-31T00:00"],
    ),
    ("cron(59 23 31 12 ? *)", "2022-12-31T23:59", ["2023-12-31T23:59"]),
    # Feb 29 fires only in leap years; 2100 is not one.
    ("cron(0 0 29 2 ? *)", "2021-01-01T00:00", ["2024-02-29T00:00", "2028-02-29T00:00"]),
    ("cron(0 0 29 2 ? *)", "2096-02-29T00:00", ["2104-02-29T00:00", "2108-02-29T00:00"]),
    ("cron(0 0 28-29 2 ? *)", "2023-02-28T00:00", ["2024-02-28T00:00", "2024-02-29T00:00"]),
    # Years past 2099 (where croniter stops).
    (
        "cron(0 0 1 1 ? 2099-2101)",
        "2098-06-01T00:00",
        ["2099-01-01T00:00", "2100-01-01T00:00", "2101-01-01T00:00"],
    ),
    # Before 1970 the first year is 1970.
    ("cron(0 0 * * ? *)", "1969-12-31T23:59", ["1970-01-01T00:00"]),
]

LAST_DAY = [
    (
        "cron(0 0 L * ? *)",
        "2023-01-31T00:00",
        ["2023-02-28T00:00", "2023-03-31T00:00", "2023-04-30T00:00"],
    ),
    ("cron(0 0 L 2 ? *)", "2023-03-01T00:00", ["2024-02-29T00:00", "2025-02-28T00:00"]),
    # 6L: the last Friday of the month.
    (
        "cron(0 9 ? * 6L *)",
        "2022-12-18T00:00",
        ["2022-12-30T09:00", "2023-01-27T09:00", "2023-02-24T09:00"],
    ),
    # FRIL is 6L with the weekday's name; 1L the last Sunday.
    ("cron(0 9 ? * FRIL *)", "2022-12-30T09:00", ["2023-01-27T09:00"]),
    ("cron(0 9 ? * 1L *)", "2022-12-01T00:00", ["2022-12-25T09:00", "2023-01-29T09:00"]),
    # L alone in day-of-week is the last day of the week: Saturday.
    ("cron(0 0 ? * L *)", "2022-12-18T00:00", ["2022-12-24T00:00", "2022-12-31T00:00"]),
]

# LW and L-n: Quartz's forms, which EventBridge accepts (see the schedules guide).
LAST_WEEKDAY_AND_OFFSETS = [
    # LW: Dec 31 2022 is a Saturday -> Friday 30; Jan 31 2023 a Tuesday stays;
    # Apr 30 2023 a Sunday -> Friday 28.
    (
        "cron(0 21 LW * ? *)",
        "2022-12-01T00:00",
        ["2022-12-30T21:00", "2023-01-31T21:00", "2023-02-28T21:00", "2023-03-31T21:00"],
    ),
    ("cron(0 21 LW 4 ? *)", "2023-01-01T00:00", ["2023-04-28T21:00"]),
    # A fire on the day itself is strictly after an earlier minute of it.
    ("cron(30 9 LW * ? *)", "2022-12-30T09:29", ["2022-12-30T09:30", "2023-01-31T09:30"]),
    # L-3: three days before the last day, leap years included.
    (
        "cron(0 0 L-3 * ? *)",
        "2023-01-31T00:00",
        ["2023-02-25T00:00", "2023-03-28T00:00", "2023-04-27T00:00"],
    ),
    ("cron(0 0 L-3 2 ? *)", "2023-03-01T00:00", ["2024-02-26T00:00", "2025-02-25T00:00"]),
    # L-1 is the day before the last.
    ("cron(0 0 L-1 12 ? 2022)", "2022-01-01T00:00", ["2022-12-30T00:00"]),
    # L-30 is the 1st of a 31-day month; shorter months do not fire.
    (
        "cron(0 0 L-30 * ? 2023)",
        "2023-01-01T00:00",
        ["2023-03-01T00:00", "2023-05-01T00:00", "2023-07-01T00:00", "2023-08-01T00:00"],
    ),
]

NEAREST_WEEKDAY = [
    # Jan 15 2023 is a Sunday -> Monday 16; Apr 15 2023 a Saturday -> Friday 14.
    (
        "cron(0 0 15W * ? 2023)",
        "2023-01-01T00:00",
        ["2023-01-16T00:00", "2023-02-15T00:00", "2023-03-15T00:00", "2023-04-14T00:00"],
    ),
    # Oct 1 2022 is a Saturday: Friday would leave the month -> Monday the 3rd.
    ("cron(0 0 1W 10 ? 2022)", "2022-01-01T00:00", ["2022-10-03T00:00"]),
    # Jan 1 2023 is a Sunday -> Monday the 2nd.
    ("cron(0 0 1W 1 ? 2023)", "2022-01-01T00:00", ["2023-01-02T00:00"]),
    # Apr 30 2023 is a Sunday and the month's last day -> Friday the 28th.
    ("cron(0 0 30W 4 ? 2023)", "2022-01-01T00:00", ["2023-04-28T00:00"]),
    # A weekday stays; 31W does not fire in months without a 31st.
    ("cron(0 0 31W 4-6 ? 2023)", "2023-01-01T00:00", ["2023-05-31T00:00"]),
]

NTH_WEEKDAY = [
    ("cron(0 9 ? * 3#2 *)", "2022-12-18T00:00", ["2023-01-10T09:00", "2023-02-14T09:00"]),
    # A fifth Monday exists only in some months.
    (
        "cron(0 0 ? * 2#5 2023)",
        "2023-01-31T00:00",
        ["2023-05-29T00:00", "2023-07-31T00:00", "2023-10-30T00:00"],
    ),
    ("cron(0 0 ? * SAT#1 *)", "2022-09-30T00:00", ["2022-10-01T00:00", "2022-11-05T00:00"]),
]

CASES = (
    AWS_EXAMPLES
    + SHIPPED_JOBS
    + LISTS_RANGES_STEPS_NAMES
    + MONTH_AND_YEAR_ENDS
    + LAST_DAY
    + LAST_WEEKDAY_AND_OFFSETS
    + NEAREST_WEEKDAY
    + NTH_WEEKDAY
)


@pytest.mark.parametrize(("expression", "after", "expected"), CASES)
def test_next_fire_times(expression: str, after: str, expected: list[str]) -> None:
    assert fire_times(expression, after, len(expected)) == expected


# Schedules that end: ask for more than remain, get what remains (maybe none).
ENDING = [
    ("cron(0 12 * 12 ? 2022)", "2022-12-30T12:00", ["2022-12-31T12:00"]),
    ("cron(0 12 * 12 ? 2022)", "2022-12-31T12:00", []),
    ("cron(0 0 1 1 ? 2023-2024)", "2022-06-01T00:00", ["2023-01-01T00:00", "2024-01-01T00:00"]),
    ("cron(0 0 L 2 ? 2100)", "2000-01-01T00:00", ["2100-02-28T00:00"]),
    ("cron(0 0 29 2 ? 2100-2102)", "2000-01-01T00:00", []),
    ("cron(59 23 31 12 ? *)", "2199-12-31T23:58", ["2199-12-31T23:59"]),
    ("cron(59 23 31 12 ? *)", "2199-12-31T23:59", []),
    ("cron(* * * * ? *)", "9999-12-31T23:59", []),
    # Valid syntax that no calendar ever satisfies.
    ("cron(0 0 30 2 ? *)", "1970-01-01T00:00", []),
    ("cron(0 0 31 APR,JUN,SEP,NOV ? *)", "1970-01-01T00:00", []),
    ("cron(0 0 ? 2 2#5 2022-2023)", "2022-01-01T00:00", []),
]


@pytest.mark.parametrize(("expression", "after", "expected"), ENDING)
def test_schedule_that_ends_returns_fewer(expression: str, after: str, expected: list[str]) -> None:
    assert fire_times(expression, after, 5) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2022-12-18T10:00:00", "2022-12-18T10:15"),  # exactly on a fire time
        ("2022-12-18T10:00:00.000001", "2022-12-18T10:15"),
        ("2022-12-18T10:14:59.999999", "2022-12-18T10:15"),
        ("2022-12-18T09:59:59", "2022-12-18T10:00"),
    ],
)
def test_strictly_after_at_sub_minute_precision(after: str, expected: str) -> None:
    assert fire_times("cron(0/15 * * * ? *)", after, 1) == [expected]


def test_aware_non_utc_after_is_converted_and_results_are_utc() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    after = dt.datetime(2022, 12, 18, 10, 0, tzinfo=plus_two)  # 08:00 UTC
    assert parse_schedule("cron(0 9 * * ? *)").next_fire_times(after) == [utc("2022-12-18T09:00")]


def test_naive_after_is_refused_with_advice() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule("cron(0 9 * * ? *)").next_fire_times(dt.datetime(2022, 12, 18))


def test_count_zero_and_negative() -> None:
    schedule = parse_schedule("cron(0 9 * * ? *)")
    assert schedule.next_fire_times(utc("2022-12-18T00:00"), 0) == []
    with pytest.raises(ValueError, match="count"):
        schedule.next_fire_times(utc("2022-12-18T00:00"), -1)


def test_many_fire_times_in_one_call_match_chained_single_calls() -> None:
    schedule = parse_schedule("cron(0/20 8-9 ? * MON,FRI *)")
    after = utc("2022-12-16T09:30")
    chained = []
    for _ in range(12):
        after = schedule.next_fire_times(after)[0]
        chained.append(after)
    assert schedule.next_fire_times(utc("2022-12-16T09:30"), 12) == chained
