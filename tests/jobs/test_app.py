"""The app registers every job module's Blueprint under the job's own name."""

from __future__ import annotations

import json

from chalice.app import ScheduledEventConfig, ScheduleExpression

from app import create_app
from functions import job_modules
from tests.support import ROOT


def expression(schedule: str | ScheduleExpression) -> str:
    return schedule if isinstance(schedule, str) else schedule.to_string()


SHIPPED = ("average_weight_last_week", "registrations_per_day")


def test_every_job_module_is_a_scheduled_function() -> None:
    sources = {
        source.name: (source.handler_string, expression(source.schedule_expression))
        for source in create_app().event_sources
        if isinstance(source, ScheduledEventConfig)
    }
    assert len(sources) == len(create_app().event_sources)
    # The shipped jobs by name, those the project still has; a job a user adds is
    # checked by the last line.
    shipped = {
        "average_weight_last_week": (
            "functions.average_weight_last_week.average_weight_last_week",
            "cron(0 1 ? * MON *)",
        ),
        "registrations_per_day": (
            "functions.registrations_per_day.registrations_per_day",
            "cron(5 0 * * ? *)",
        ),
    }
    kept = [name for name in SHIPPED if f"functions.{name}" in job_modules()]
    assert {name: sources.get(name) for name in kept} == {name: shipped[name] for name in kept}
    assert {handler.rsplit(".", 1)[0] for handler, _ in sources.values()} == set(job_modules())


def test_config_names_the_app_and_every_stage() -> None:
    config = json.loads((ROOT / ".chalice/config.json").read_text())
    assert config["app_name"] == "metric-jobs"
    assert set(config["stages"]) >= {"local", "localstack", "dev", "prod"}
    for stage in config["stages"].values():
        assert {"REGISTRATIONS_DB", "RESULTS_API_URL"} <= set(stage["environment_variables"])


def test_vendor_ships_the_functions_package() -> None:
    assert (ROOT / "vendor/functions").resolve() == (ROOT / "functions").resolve()
