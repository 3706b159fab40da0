"""Random AWS cron expressions against a day-by-day scan of what they mean.

Each field is drawn together with the set of values it is meant to select,
worked out here independently of the parser (wrap-around ranges by modular
arithmetic, steps by counting, names in random case); the day rules come from
their plain-English definitions. The scan then lists every instant those sets
select over the next 400 days, and ``next_fire_times`` must list the same.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from localbridge import parse_schedule

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
DayTest = Callable[[dt.date], bool]


@dataclass(frozen=True)
class Written:
    """A field's text and the values it is meant to select."""

    text: str
    values: frozenset[int]


def aws_weekday(day: dt.date) -> int:
    """1=SUN .. 7=SAT."""
    return day.isoweekday() % 7 + 1


def month_length(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def nearest_weekday(day: dt.date, target: int) -> bool:
    """Is ``day`` the MON-FRI date of its month closest to ``target``? (never a tie)"""
    length = month_length(day)
    if target > length:
        return False
    weekdays = [d for d in range(1, length + 1) if aws_weekday(day.replace(day=d)) not in (1, 7)]
    return day.day == min(weekdays, key=lambda d: abs(d - target))


@st.composite
def field(
    draw: st.DrawFn, low: int, high: int, names: tuple[str, ...] = (), steps: bool = True
) -> Written:
    size = high - low + 1

    def write(value: int) -> str:
        use_name = draw(st.booleans())
        if names and use_name:
            name = names[value - low]
            return draw(st.sampled_from([name, name.lower(), name.capitalize()]))
        return str(value)

    def walk(start: int, end: int, step: int) -> set[int]:
        """start, start+step, ... up to end, going round past ``high`` if end < start."""
        length = (end - start) % size + 1
        return {(start - low + i) % size + low for i in range(0, length, step)}

    value = st.integers(low, high)
    items: list[Written] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "range", "from", "every", "range-step"]))
        if not steps and kind in ("from", "every", "range-step"):
            kind = "value"
        # Quartz's (and EventBridge's) largest step is the field's highest value.
        a, b, step = draw(value), draw(value), draw(st.integers(1, high))
        if kind == "value":
            items.append(Written(write(a), frozenset({a})))
        elif kind == "range":
            items.append(Written(f"{write(a)}-{write(b)}", frozenset(walk(a, b, 1))))
        elif kind == "from":
            items.append(Written(f"{write(a)}/{step}", frozenset(range(a, high + 1, step))))
        elif kind == "every":
            items.append(Written(f"*/{step}", frozenset(range(low, high + 1, step))))
        else:
            items.append(Written(f"{write(a)}-{write(b)}/{step}", frozenset(walk(a, b, step))))
    if draw(st.integers(0, 4)) == 0:
        return Written("*", frozenset(range(low, high + 1)))
    return Written(",".join(i.text for i in items), frozenset().union(*(i.values for i in items)))


@st.composite
def day_fields(draw: st.DrawFn) -> tuple[str, str, DayTest]:
    """(day-of-month, day-of-week, which dates they select)."""
    kind = draw(st.sampled_from(["dom", "dow", "L", "LW", "L-n", "nW", "nL", "#", "SAT"]))
    # Month edges are where nW and #5 go wrong, so they come up more often.
    n = draw(st.one_of(st.sampled_from([1, 2, 28, 29, 30, 31]), st.integers(1, 31)))
    w, k = draw(st.integers(1, 7)), draw(st.one_of(st.just(5), st.integers(1, 5)))
    weekday = draw(st.sampled_from([str(w), WEEKDAYS[w - 1]]))
    if kind == "dom":
        dom = draw(field(1, 31))
        return dom.text, "?", lambda d: d.day in dom.values
    if kind == "dow":
        dow = draw(field(1, 7, WEEKDAYS, steps=False))
        return "?", dow.text, lambda d: aws_weekday(d) in dow.values
    if kind == "L":
        return "L", "?", lambda d: d.day == month_length(d)
    if kind == "LW":
        # The last of the month's MON-FRI dates.
        return "LW", "?", lambda d: nearest_weekday(d, month_length(d))
    if kind == "L-n":
        offset = min(n, 30)
        return f"L-{offset}", "?", lambda d: d.day == month_length(d) - offset
    if kind == "nW":
        return f"{n}W", "?", lambda d: nearest_weekday(d, n)
    if kind == "nL":
        return "?", f"{weekday}L", lambda d: aws_weekday(d) == w and d.day + 7 > month_length(d)
    if kind == "#":
        return "?", f"{weekday}#{k}", lambda d: aws_weekday(d) == w and (d.day + 6) // 7 == k
    return "?", "L", lambda d: aws_weekday(d) == 7


def year_field(around: int) -> st.SearchStrategy[Written]:
    """Years near ``around``, so that the 400 days scanned can meet them."""
    y = min(max(around, 1971), 2198)
    return st.sampled_from(
        [
            Written("*", frozenset(range(1970, 2200))),
            Written(str(y), frozenset({y})),
            Written(f"{y}-{y + 1}", frozenset({y, y + 1})),
            Written(f"{y - 1},{y + 1}", frozenset({y - 1, y + 1})),
            Written(f"{y}/2", frozenset(range(y, 2200, 2))),
        ]
    )


@dataclass(frozen=True)
class Case:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day: DayTest

    def scan(self, after: dt.datetime, days: int = 400, enough: int = 30) -> list[dt.datetime]:
        """Every selected instant after ``after``, day by day, up to ``days`` days."""
        found: list[dt.datetime] = []
        date = after.date()
        for _ in range(days):
            if date.year in self.years and date.month in self.months and self.day(date):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        instant = dt.datetime.combine(date, dt.time(hour, minute), dt.UTC)
                        if instant > after:
                            found.append(instant)
            if len(found) >= enough or date == dt.date(2199, 12, 31):
                break
            date += dt.timedelta(days=1)
        return found

    def scanned_until(self, after: dt.datetime, found: list[dt.datetime]) -> dt.datetime:
        last_day = found[-1].date() if len(found) >= 30 else after.date() + dt.timedelta(399)
        return dt.datetime.combine(last_day, dt.time(23, 59), dt.UTC)


@st.composite
def cases(draw: st.DrawFn, after: dt.datetime) -> Case:
    minutes, hours = draw(field(0, 59)), draw(field(0, 23))
    months = draw(field(1, 12, MONTHS))
    dom, dow, day = draw(day_fields())
    years = draw(year_field(after.year))
    fields = (minutes.text, hours.text, dom, months.text, dow, years.text)
    return Case(
        f"cron({' '.join(fields)})", minutes.values, hours.values, months.values, years.values, day
    )


AFTER = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(2199, 12, 31),
    timezones=st.just(dt.UTC),
)


@settings(max_examples=250, deadline=None)
@given(st.data(), AFTER)
def test_fire_times_are_exactly_what_the_fields_select(
    data: st.DataObject, after: dt.datetime
) -> None:
    case = data.draw(cases(after))
    expected = case.scan(after)
    until = case.scanned_until(after, expected)
    fires = parse_schedule(case.expression).next_fire_times(after, len(expected) + 1)
    assert [t for t in fires if t <= until] == expected
    # Nothing was skipped: the first instant past the scanned span lies past it.
    assert all(t > until for t in fires[len(expected) :])
