"""Both jobs on the original data and on generated data, checked against plain queries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from data.generate import Spec, write
from tests.jobs.support import chalice_client, invoke, plain_query
from tests.support import RecordingServer

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")

WEEK_SQL = (
    "SELECT count(*), avg(weight) FROM registration"
    " WHERE date(timestamp) BETWEEN '2022-12-12' AND '2022-12-18'"
)
DAY_SQL = "SELECT count(*) FROM registration WHERE date(timestamp) = ?"


def run_both(project: Path, db: Path, server: RecordingServer) -> tuple[dict[str, Any], ...]:
    env = {"REGISTRATIONS_DB": str(db), "RESULTS_API_URL": server.url}
    client = chalice_client(project, env)
    week = invoke(client, "average_weight_last_week", "2022-12-23T10:00:00Z")
    day = invoke(client, "registrations_per_day", "2022-12-22T00:05:00Z")
    assert [r.json() for r in server.requests] == [week, day]
    return week, day


def test_original_data_week_50_and_a_day(
    tmp_path: Path, original_db: Path, recording_server: RecordingServer
) -> None:
    week, day = run_both(tmp_path, original_db, recording_server)

    assert (week["week"], week["period_start"], week["period_end"]) == (
        "2022-W50",
        "2022-12-12",
        "2022-12-18",
    )
    assert week["count"] == 18
    assert week["value"] == pytest.approx(2140.3333333, abs=1e-6)
    assert (week["count"], week["value"]) == plain_query(original_db, WEEK_SQL)
    assert day["date"] == "2022-12-21"
    assert (day["count"],) == plain_query(original_db, DAY_SQL, "2022-12-21")
    assert day["count"] > 0


def test_generated_data(tmp_path: Path, recording_server: RecordingServer) -> None:
    db = write(Spec(), tmp_path / "registrations.db")
    week, day = run_both(tmp_path, db, recording_server)

    assert (week["count"], week["value"]) == plain_query(db, WEEK_SQL)
    assert isinstance(week["count"], int)
    assert week["count"] > 0
    assert (day["count"],) == plain_query(db, DAY_SQL, "2022-12-21")
    assert isinstance(day["count"], int)
    assert day["count"] > 0
