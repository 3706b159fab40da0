"""Property tests: the evaluator against croniter where croniter is right, and
the L/W/# day rules against independent definitions of them."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from croniter import CroniterBadDateError, croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from localbridge import parse_schedule

AFTER = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(2090, 12, 31),
    timezones=st.just(dt.UTC),
)


@dataclass(frozen=True)
class Field:
    """One field written both ways: AWS text and croniter's (5-field, SUN=0)."""

    aws: str
    croniter: str


def _field(
    low: int, high: int, shift: int = 0, steps: bool = True, field_high: int | None = None
) -> st.SearchStrategy[Field]:
    """Lists, non-wrapping ranges, steps and ``*`` over values low..high.

    ``shift`` maps AWS numbers onto croniter's (day-of-week: AWS 1=SUN, croniter
    0=SUN). AWS's ``a/s`` (from a, every s) is croniter's ``a-H/s`` where H is
    the field's own maximum, ``field_high`` when values are drawn from less.
    """
    last = high if field_high is None else field_high
    value = st.integers(low, high)

    def single(v: int) -> Field:
        return Field(str(v), str(v + shift))

    def cron_range(a: int, b: int, step: int = 1) -> str:
        # croniter reads a one-value range ("0-0", "2-2/1") as the whole field.
        if a == b:
            return str(a + shift)
        return f"{a + shift}-{b + shift}" + (f"/{step}" if step > 1 else "")

    def span(pair: tuple[int, int]) -> Field:
        a, b = sorted(pair)
        return Field(f"{a}-{b}", cron_range(a, b))

    def stepped(args: tuple[int, int]) -> Field:
        start, step = args
        return Field(f"{start}/{step}", cron_range(start, last, step))

    def stepped_span(args: tuple[int, int, int]) -> Field:
        a, b = sorted(args[:2])
        return Field(f"{a}-{b}/{args[2]}", cron_range(a, b, args[2]))

    element = st.one_of(
        value.map(single),
        st.tuples(value, value).map(span),
        *(
            [
                # Quartz's (and EventBridge's) largest step: 59 minutes, 23 hours, 31, 12.
                st.tuples(value, st.integers(1, last)).map(stepped),
                st.tuples(value, value, st.integers(1, 10)).map(stepped_span),
            ]
            if steps
            else []
        ),
    )

    def join(items: list[Field]) -> Field:
        return Field(",".join(f.aws for f in items), ",".join(f.croniter for f in items))

    return st.one_of(st.just(Field("*", "*")), st.lists(element, min_size=1, max_size=3).map(join))


@st.composite
def comparable_expressions(draw: st.DrawFn) -> tuple[str, str]:
    """An AWS cron expression (year ``*``) and the croniter expression that means the same."""
    minutes = draw(_field(0, 59))
    hours = draw(_field(0, 23))
    month = draw(_field(1, 12))
    if draw(st.booleans()):
        # Days 1-28 only: a sparse day croniter cannot find within its search
        # window would be croniter's limit, not a disagreement.
        dom = draw(_field(1, 28, field_high=31))
        aws_days, croniter_days = f"{dom.aws} {month.aws} ?", f"{dom.croniter} {month.croniter} *"
    else:
        dow = draw(_field(1, 7, shift=-1, steps=False))
        aws_days, croniter_days = f"? {month.aws} {dow.aws}", f"* {month.croniter} {dow.croniter}"
    aws = f"cron({minutes.aws} {hours.aws} {aws_days} *)"
    five_fields = f"{minutes.croniter} {hours.croniter} {croniter_days}"
    return aws, five_fields


@settings(max_examples=300, deadline=None)
@given(comparable_expressions(), AFTER)
def test_agrees_with_croniter_where_croniter_is_right(
    expressions: tuple[str, str], after: dt.datetime
) -> None:
    aws, five_fields = expressions
    reference = croniter(five_fields, after)
    try:
        expected = [reference.get_next(dt.datetime) for _ in range(5)]
    except CroniterBadDateError:
        # A day no selected month has (a step reaching the 30th in February).
        expected = []
    assert parse_schedule(aws).next_fire_times(after, 5) == expected


@settings(max_examples=200, deadline=None)
@given(comparable_expressions(), AFTER, st.integers(1, 20))
def test_one_call_for_many_equals_chained_calls(
    expressions: tuple[str, str], after: dt.datetime, count: int
) -> None:
    schedule = parse_schedule(expressions[0])
    chained: list[dt.datetime] = []
    moment = after
    for _ in range(count):
        moment = schedule.next_fire_times(moment)[0]
        chained.append(moment)
    assert schedule.next_fire_times(after, count) == chained
    # Each instant is itself the next one after any moment in the minute before it.
    for instant in chained:
        assert schedule.next_fire_times(instant - dt.timedelta(microseconds=1)) == [instant]
        assert schedule.next_fire_times(instant - dt.timedelta(seconds=59)) == [instant]


# Independent definitions of the special day rules (AWS weekday 1=SUN..7=SAT).
def _aws_weekday(day: dt.date) -> int:
    return day.isoweekday() % 7 + 1


def _month_length(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _is_nearest_weekday(day: dt.date, target: int) -> bool:
    """The MON-FRI date of the month closest to ``target`` (never a tie)."""
    length = _month_length(day)
    if target > length:
        return False
    weekdays = [d for d in range(1, length + 1) if _aws_weekday(day.replace(day=d)) not in (1, 7)]
    return day.day == min(weekdays, key=lambda d: abs(d - target))


DAY_RULES: dict[str, Callable[[dt.date, int, int], bool]] = {
    "L ?": lambda day, n, k: day.day == _month_length(day),
    "{n}W ?": lambda day, n, k: _is_nearest_weekday(day, n),
    "LW ?": lambda day, n, k: (
        day.day
        == max(
            d
            for d in range(1, _month_length(day) + 1)
            if _aws_weekday(day.replace(day=d)) not in (1, 7)
        )
    ),
    "L-{n} ?": lambda day, n, k: day.day == _month_length(day) - n,
    "? {w}L": lambda day, w, k: _aws_weekday(day) == w and day.day + 7 > _month_length(day),
    "? {w}#{k}": lambda day, w, k: _aws_weekday(day) == w and (day.day - 1) // 7 + 1 == k,
    "? L": lambda day, n, k: _aws_weekday(day) == 7,
}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(DAY_RULES)),
    st.integers(1, 31),
    st.integers(1, 7),
    st.integers(1, 5),
    st.dates(min_value=dt.date(1970, 1, 1), max_value=dt.date(2195, 1, 1)),
)
def test_day_rules_match_their_definitions(
    template: str, n: int, w: int, k: int, start: dt.date
) -> None:
    if template.startswith("L-"):
        n = min(n, 30)  # L-n goes up to 30 (the 1st of a 31-day month)
    day_fields = template.format(n=n, w=w, k=k)
    dom, dow = day_fields.split()
    number = n if "{n}" in template else w
    matches = DAY_RULES[template]
    after = dt.datetime.combine(start, dt.time(), dt.UTC)
    fires = parse_schedule(f"cron(0 0 {dom} * {dow} *)").next_fire_times(after, 6)
    expected: list[dt.datetime] = []
    day = start + dt.timedelta(days=1)
    while len(expected) < 6 and day.year <= 2199:
        if matches(day, number, k):
            expected.append(dt.datetime.combine(day, dt.time(), dt.UTC))
        day += dt.timedelta(days=1)
    assert fires == expected
