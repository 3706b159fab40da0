"""English descriptions of AWS cron expressions through cron-descriptor.

cron-descriptor reads Quartz-style seven-part expressions (seconds first, year
last) with day-of-week 1-7 = SUN-SAT when told so, which is AWS's numbering; it
only lacks ``L`` alone in day-of-week, which AWS defines as Saturday.
"""

from __future__ import annotations


def describe_cron(fields: tuple[str, ...]) -> str:
    minutes, hours, dom, month, dow, year = fields
    if dow == "L":
        dow = "7"
    quartz = " ".join(("0", minutes, hours, dom, month, dow, year))
    try:
        from cron_descriptor import ExpressionDescriptor, Options

        options = Options()
        options.day_of_week_start_index_zero = False
        options.use_24hour_time_format = True
        description: str = ExpressionDescriptor(quartz, options).get_description()
    except Exception:  # a form cron-descriptor lacks: describe the raw fields instead
        names = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
        return "; ".join(f"{name} {value}" for name, value in zip(names, fields, strict=True))
    return description
