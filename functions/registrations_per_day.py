"""Daily: number of registrations on the previous UTC day."""

from chalice.app import Blueprint, CloudWatchEvent, Cron

from functions._job import metric_job
from functions._periods import previous_day
from functions._registrations import Registrations
from functions._results import Result

bp = Blueprint(__name__)


@bp.schedule(Cron(5, 0, "*", "*", "?", "*"))
@metric_job
def registrations_per_day(event: CloudWatchEvent, registrations: Registrations) -> Result:
    day = previous_day(event.time)
    return {
        "metric": "registrations",
        "date": day.first_day.isoformat(),
        "count": registrations.count(day),
    }
