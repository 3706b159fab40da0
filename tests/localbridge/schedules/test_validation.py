"""Expressions EventBridge rejects: each raises ScheduleError naming field and rule."""

from __future__ import annotations

import pytest

from localbridge import ScheduleError, parse_schedule

BOTH_DAYS = "specify either day-of-month or day-of-week and set the other to '?'"
SIX_FIELDS = "cron needs 6 fields (Minutes Hours Day-of-month Month Day-of-week Year)"
NOT_AN_EXPRESSION = "expected cron(Minutes Hours Day-of-month Month Day-of-week Year) or rate"

REJECTED = [
    # The day fields: exactly one is '?'.
    ("cron(0 1 * * MON *)", BOTH_DAYS),
    ("cron(0 1 1 * L *)", BOTH_DAYS),
    ("cron(0 0 * * * *)", BOTH_DAYS),
    ("cron(0 1 ? * ? *)", f"{BOTH_DAYS} (both are '?')"),
    # Field count.
    ("cron(0 1 * * ?)", f"{SIX_FIELDS}, got 5"),
    ("cron(0 0 1 * * ? *)", f"{SIX_FIELDS}, got 7"),
    ("cron()", f"{SIX_FIELDS}, got 0"),
    # Ranges of values.
    ("cron(60 1 * * ? *)", "minutes: 60 is out of range 0-59"),
    ("cron(0 24 * * ? *)", "hours: 24 is out of range 0-23"),
    ("cron(0 0 0 * ? *)", "day-of-month: 0 is out of range 1-31"),
    ("cron(0 0 32 * ? *)", "day-of-month: 32 is out of range 1-31"),
    ("cron(0 0 1 0 ? *)", "month: 0 is out of range 1-12 or JAN-DEC"),
    ("cron(0 0 1 13 ? *)", "month: 13 is out of range 1-12"),
    ("cron(0 1 ? * 0 *)", "day-of-week: 0 is out of range 1-7 (1=SUN)"),
    ("cron(0 1 ? * 8 *)", "day-of-week: 8 is out of range 1-7 (1=SUN)"),
    ("cron(0 1 ? * 1-8 *)", "day-of-week: 8 is out of range"),
    ("cron(0 0 1 1 ? 1969)", "year: 1969 is out of range 1970-2199"),
    ("cron(0 0 1 1 ? 2200)", "year: 2200 is out of range 1970-2199"),
    ("cron(0 0 1 1 ? 2030-2020)", "year: range '2030-2020' goes backwards"),
    # Names.
    ("cron(0 1 ? * MONDAY *)", "day-of-week: unknown value 'MONDAY' (use 1-7 (1=SUN) or SUN-SAT)"),
    ("cron(0 1 1 JANUARY ? *)", "month: unknown value 'JANUARY' (use 1-12 or JAN-DEC)"),
    ("cron(0 1 ? JAN-MON * *)", "month: unknown value 'MON'"),
    ("cron(a 0 * * ? *)", "minutes: unknown value 'a'"),
    ("cron(0 MON * * ? *)", "hours: unknown value 'MON'"),
    ("cron(0 0 * * ? 20x0)", "year: unknown value '20x0'"),
    # Steps and list syntax.
    ("cron(0/0 * * * ? *)", "minutes: step in '0/0' must be a positive whole number"),
    ("cron(0 0 1 1 ? 2020/0)", "year: step in '2020/0' must be a positive whole number"),
    ("cron(0/x * * * ? *)", "minutes: step in '0/x' must be a positive whole number"),
    ("cron(*/60 * * * ? *)", "minutes: step in '*/60' must be at most 59"),
    ("cron(0/60 * * * ? *)", "minutes: step in '0/60' must be at most 59"),
    ("cron(0 */24 * * ? *)", "hours: step in '*/24' must be at most 23"),
    ("cron(0 0 1/32 * ? *)", "day-of-month: step in '1/32' must be at most 31"),
    ("cron(0 0 1 */13 ? *)", "month: step in '*/13' must be at most 12"),
    ("cron(0,,5 0 * * ? *)", "minutes: empty element in list '0,,5'"),
    ("cron(0, 0 * * ? *)", "minutes: empty element"),
    ("cron(0- 0 * * ? *)", "minutes: a range or step is missing a value"),
    # Wildcards a field does not allow.
    ("cron(0 ? * * ? *)", "hours: '?' is not allowed here"),
    ("cron(0 0 1 L ? *)", "month: unknown value 'L'"),
    ("cron(0 0 ? * MON/2 *)", "day-of-week: '/' is not allowed here (wildcards: , - * ? L #)"),
    ("cron(0 0 1# * ? *)", "day-of-month: '#' is not allowed here"),
    ("cron(0 0 ? * 1W *)", "day-of-week: unknown value '1W'"),
    ("cron(0 0 1,? * ? *)", "day-of-month: '?' is only allowed alone"),
    ("cron(0 0 ? * ?,1 *)", "day-of-week: '?' is only allowed alone"),
    ("cron(0 0 15 * ?,1 *)", f"{BOTH_DAYS} (got '15' and '?,1')"),
    ("cron(0 0 1 * ? L)", "year: unknown value 'L'"),
    # L, W and # forms.
    ("cron(0 0 ? * 3#1,6#3 *)", "day-of-week: only one expression is allowed when '#' is used"),
    ("cron(0 0 ? * 3#1#2 *)", "day-of-week: only one expression is allowed when '#' is used"),
    ("cron(0 0 ? * 3#1,5 *)", "day-of-week: only one expression is allowed when '#' is used"),
    ("cron(0 0 ? * 3#6 *)", "day-of-week: '3#6': the occurrence after '#' must be 1-5"),
    ("cron(0 0 ? * 3#0 *)", "the occurrence after '#' must be 1-5"),
    ("cron(0 0 ? * 9#1 *)", "day-of-week: 9 is out of range"),
    ("cron(0 0 ? * 6L,2 *)", "day-of-week: '6L,2': L and nL (e.g. 6L) must stand alone"),
    ("cron(0 0 ? * 2-6L *)", "L and nL (e.g. 6L) must stand alone"),
    ("cron(0 0 ? * 8L *)", "day-of-week: 8 is out of range"),
    ("cron(0 0 ? * 6l *)", "day-of-week: unknown value '6l'"),
    ("cron(0 0 1W,15 * ? *)", "day-of-month: '1W,15': L (last day), LW (last weekday)"),
    ("cron(0 0 L,15 * ? *)", "must stand alone"),
    ("cron(0 0 W * ? *)", "must stand alone"),
    # LW and L-n (Quartz's forms, which EventBridge accepts) stand alone too.
    ("cron(0 0 LW,15 * ? *)", "day-of-month: 'LW,15': L (last day), LW (last weekday)"),
    ("cron(0 0 L-3,15 * ? *)", "must stand alone"),
    ("cron(0 0 15,L-3 * ? *)", "must stand alone"),
    ("cron(0 0 WL * ? *)", "must stand alone"),
    ("cron(0 0 L3 * ? *)", "must stand alone"),
    ("cron(0 0 Lw * ? *)", "day-of-month: 'Lw': L (last day)"),
    (
        "cron(0 0 L-0 * ? *)",
        "day-of-month: 'L-0': the offset in L-n is a whole number of days 1-30",
    ),
    ("cron(0 0 L-31 * ? *)", "the offset in L-n is a whole number of days 1-30"),
    ("cron(0 0 L- * ? *)", "the offset in L-n is a whole number of days 1-30"),
    ("cron(0 0 L-3W * ? *)", "the offset in L-n is a whole number of days 1-30"),
    ("cron(0 0 L-3-5 * ? *)", "the offset in L-n is a whole number of days 1-30"),
    ("cron(0 0 L-x * ? *)", "the offset in L-n is a whole number of days 1-30"),
    ("cron(0 0 ? * LW *)", "day-of-week: 'LW': L and nL (e.g. 6L) must stand alone"),
    ("cron(0 0 ? * L-3 *)", "day-of-week"),
    ("cron(0 0 32W * ? *)", "day-of-month: 32 is out of range 1-31"),
    ("cron(0 0 0W * ? *)", "day-of-month: 0 is out of range 1-31"),
    # Not an expression at all, or trailing junk.
    ("", NOT_AN_EXPRESSION),
    ("0 1 ? * MON *", NOT_AN_EXPRESSION),
    ("cron(0 1 ? * MON *) ", NOT_AN_EXPRESSION),
    ("cron(0 1 ? * MON *)x", NOT_AN_EXPRESSION),
    ("cron(0 1 ? * MON *", NOT_AN_EXPRESSION),
    ("CRON(0 1 ? * MON *)", NOT_AN_EXPRESSION),
    ("at(2022-12-19T01:00:00)", NOT_AN_EXPRESSION),
    ("cron(0 1 ? * MON *)(", NOT_AN_EXPRESSION),
    ("cron(0 1 ? * MON *))", "year: ')' is not allowed here"),
    # Rates.
    ("rate(0 minutes)", "rate value must be a positive whole number, got '0'"),
    ("rate(-5 minutes)", "rate value must be a positive whole number, got '-5'"),
    ("rate(1.5 hours)", "rate value must be a positive whole number, got '1.5'"),
    ("rate(five minutes)", "rate value must be a positive whole number"),
    ("rate(1 minutes)", "rate(1 minutes): use the singular 'minute' when the value is 1"),
    ("rate(1 hours)", "use the singular 'hour' when the value is 1"),
    ("rate(1 days)", "use the singular 'day' when the value is 1"),
    ("rate(5 minute)", "rate(5 minute): use the plural 'minutes' when the value is greater than 1"),
    ("rate(5 hour)", "use the plural 'hours'"),
    ("rate(2 day)", "use the plural 'days'"),
    ("rate(5 weeks)", "unknown rate unit 'weeks' (use minute(s), hour(s) or day(s))"),
    ("rate(5 Minutes)", "unknown rate unit 'Minutes'"),
    ("rate(5 minutess)", "unknown rate unit 'minutess'"),
    ("rate(30 seconds)", "unknown rate unit 'seconds'"),
    ("rate(5)", "rate needs a value and a unit, e.g. rate(5 minutes)"),
    ("rate(5 minutes now)", "rate needs a value and a unit"),
    ("rate()", "rate needs a value and a unit"),
    ("rate(5 minutes)x", NOT_AN_EXPRESSION),
]


@pytest.mark.parametrize(("expression", "message"), REJECTED)
def test_rejected_with_a_message_naming_the_rule(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(expression)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{expression}: ")
    assert raised.value.expression == expression


def test_schedule_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_schedule("cron(61 * * * ? *)")


def test_non_string_is_rejected() -> None:
    with pytest.raises(ScheduleError, match="must be a string"):
        parse_schedule(5)  # type: ignore[arg-type]


ACCEPTED = [
    "cron(0 1 ? * MON *)",
    "cron(5 0 * * ? *)",
    "cron(* * * * ? *)",
    "cron(0 0 ? * sun-sat *)",
    "cron(0 0 ? * Fri#5 *)",
    "cron(0 0 ? * 7L *)",
    "cron(0 0 L * ? *)",
    "cron(0 0 31W * ? *)",
    "cron(0 0 LW * ? *)",
    "cron(0 0 L-1 * ? *)",
    "cron(0 0 L-30 * ? *)",
    "cron(0 0 1 jan-dec ? 1970-2199)",
    "cron(0 0 1 1 ? */10)",
    "cron(*/59 */23 */31 */12 ? */229)",
    "cron(59 23 31 12 ? 2199)",
    "cron(0  1   ?\t* MON *)",
    "rate(1 minute)",
    "rate(1 hour)",
    "rate(1 day)",
    "rate(2 days)",
    "rate(525600 minutes)",
]


@pytest.mark.parametrize("expression", ACCEPTED)
def test_accepted(expression: str) -> None:
    schedule = parse_schedule(expression)
    assert schedule.expression == expression
