"""Weekly: mean weight of the registrations in the previous complete ISO week."""

from chalice.app import Blueprint, CloudWatchEvent, Cron

from functions._job import metric_job
from functions._periods import previous_iso_week
from functions._registrations import Registrations
from functions._results import Result

bp = Blueprint(__name__)


@bp.schedule(Cron(0, 1, "?", "*", "MON", "*"))
@metric_job
def average_weight_last_week(event: CloudWatchEvent, registrations: Registrations) -> Result:
    week = previous_iso_week(event.time)
    summary = registrations.weight_summary(week)
    return {
        "metric": "average_weight",
        "week": week.week_label,
        "period_start": week.first_day.isoformat(),
        "period_end": week.last_day.isoformat(),
        "value": summary.mean,
        "count": summary.count,
    }
