"""Human descriptions: cron-descriptor for cron (AWS numbering), own wording for rate."""

from __future__ import annotations

import pytest

from localbridge import parse_schedule
from localbridge.schedules.describe import describe_cron

DESCRIPTIONS = [
    ("cron(0 1 ? * MON *)", "At 01:00, only on Monday"),
    ("cron(5 0 * * ? *)", "At 00:05"),
    ("cron(0/15 * * * ? *)", "Every 15 minutes"),
    # AWS numbers weekdays 1=SUN..7=SAT; L alone is Saturday.
    ("cron(0 9 ? * 1 *)", "At 09:00, only on Sunday"),
    ("cron(0 9 ? * 7 *)", "At 09:00, only on Saturday"),
    ("cron(0 9 ? * L *)", "At 09:00, only on Saturday"),
    ("cron(0 9 ? * 6L *)", "At 09:00, on the last Friday of the month"),
    ("cron(0 9 ? * 3#2 *)", "At 09:00, on the second Tuesday of the month"),
    ("cron(0 9 15W * ? *)", "At 09:00, on the weekday nearest day 15 of the month"),
    ("cron(0 9 L * ? *)", "At 09:00, on the last day of the month"),
    ("cron(0 21 LW * ? *)", "At 21:00, on the last weekday of the month"),
    ("cron(0 0 L-3 * ? *)", "At 00:00, 3 days before the last day of the month"),
    (
        "cron(0 0 1 1 ? 2023-2024)",
        "At 00:00, on day 1 of the month, only in January, 2023 through 2024",
    ),
    ("rate(1 minute)", "Every minute"),
    ("rate(5 minutes)", "Every 5 minutes"),
    ("rate(1 hour)", "Every hour"),
    ("rate(12 hours)", "Every 12 hours"),
    ("rate(1 day)", "Every day"),
    ("rate(7 days)", "Every 7 days"),
]


@pytest.mark.parametrize(("expression", "description"), DESCRIPTIONS)
def test_describe(expression: str, description: str) -> None:
    assert parse_schedule(expression).describe() == description


def test_year_steps_end_at_2199_not_9999() -> None:
    description = parse_schedule("cron(0 0 1 1 ? 2020/5)").describe()
    assert description.endswith("every 5 years, 2020 through 2199")


def test_unreadable_fields_fall_back_to_the_fields_themselves() -> None:
    # Not a valid AWS expression (the parser would refuse it); it exercises the
    # fallback used when cron-descriptor cannot read a form AWS accepts.
    fields = ("x", "1", "?", "*", "MON", "*")
    assert describe_cron(fields) == (
        "minutes x; hours 1; day-of-month ?; month *; day-of-week MON; year *"
    )
