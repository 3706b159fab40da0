"""English descriptions of AWS cron expressions through cron-descriptor.

cron-descriptor reads Quartz-style seven-part expressions (seconds first, year
last) and, when told so, AWS's day-of-week numbering 1-7 = SUN-SAT. Two AWS
forms need translating first: ``L`` alone in day-of-week (AWS: Saturday) and a
year step ``2020/5``, which cron-descriptor would describe as running to 9999
rather than to AWS's last year, 2199.
"""

from __future__ import annotations

import re

_YEAR_STEP_FROM = re.compile(r"^([0-9]+)/([0-9]+)$")


def _quartz(fields: tuple[str, ...]) -> str:
    minutes, hours, dom, month, dow, year = fields
    if dow == "L":
        dow = "7"
    year = _YEAR_STEP_FROM.sub(r"\1-2199/\2", year)
    return " ".join(("0", minutes, hours, dom, month, dow, year))


def describe_cron(fields: tuple[str, ...]) -> str:
    """cron-descriptor's description, or the raw fields when it cannot read them."""
    try:
        from cron_descriptor import ExpressionDescriptor, Options

        options = Options()
        options.day_of_week_start_index_zero = False
        options.use_24hour_time_format = True
        description: str = ExpressionDescriptor(_quartz(fields), options).get_description()
    except Exception:  # a form cron-descriptor lacks: describe the raw fields instead
        names = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
        return "; ".join(f"{name} {value}" for name, value in zip(names, fields, strict=True))
    return description
