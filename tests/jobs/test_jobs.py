"""Each job through the Chalice test client, a real SQLite file and a real HTTP server."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from statistics import fmean

import pytest

from functions._errors import RegistrationsError
from functions._results import ResultPostError
from tests.jobs.support import chalice_client, invoke, write_registrations
from tests.support import RecordingServer

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")

WEEK_50_ROWS = [
    ("2022-12-11 23:59:59.999999", 9000.0),  # Sunday of week 49: out
    ("2022-12-12 00:00:00.000000", 1000.0),  # Monday of week 50: in
    ("2022-12-14 10:30:00.250000", 2001.0),
    ("2022-12-18 23:59:59.999999", 3500.0),  # last instant of week 50: in
    ("2022-12-19 00:00:00.000000", 7000.0),  # Monday of week 51: out
]
DAY_ROWS = [
    ("2022-12-20 23:59:59.999999", 1.0),
    ("2022-12-21 00:00:00.000000", 2.0),
    ("2022-12-21 13:14:15.161718", 3.0),
    ("2022-12-21 23:59:59.999999", 4.0),
    ("2022-12-22 00:00:00.000000", 5.0),
]


@pytest.fixture
def registrations_db(tmp_path: Path) -> Path:
    return write_registrations(tmp_path / "registrations.db", WEEK_50_ROWS + DAY_ROWS)


def job_env(db: Path | str, server: RecordingServer, **extra: str) -> dict[str, str]:
    return {
        "REGISTRATIONS_DB": str(db),
        "RESULTS_API_URL": server.url,
        "RESULTS_API_BACKOFF": "0.001",
        **extra,
    }


def test_average_weight_posts_the_exact_body_and_key(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    returned = invoke(client, "average_weight_last_week", "2022-12-19T01:00:00Z")

    expected = {
        "metric": "average_weight",
        "week": "2022-W50",
        "period_start": "2022-12-12",
        "period_end": "2022-12-18",
        "value": fmean([1000.0, 2001.0, 3500.0]),
        "count": 3,
        "function": "average_weight_last_week",
        "scheduled_time": "2022-12-19T01:00:00Z",
    }
    [request] = recording_server.requests
    assert (request.method, request.path) == ("POST", "/result")
    assert request.json() == expected
    assert request.headers["Idempotency-Key"] == "average_weight_last_week/2022-12-19T01:00:00Z"
    assert "Authorization" not in request.headers
    assert returned == expected


def test_registrations_per_day_posts_the_exact_body_and_key(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    returned = invoke(client, "registrations_per_day", "2022-12-22T00:05:00Z")

    expected = {
        "metric": "registrations",
        "date": "2022-12-21",
        "count": 3,
        "function": "registrations_per_day",
        "scheduled_time": "2022-12-22T00:05:00Z",
    }
    [request] = recording_server.requests
    assert request.json() == expected
    assert request.headers["Idempotency-Key"] == "registrations_per_day/2022-12-22T00:05:00Z"
    assert returned == expected


def test_scheduled_time_is_posted_exactly_as_received(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    invoke(client, "registrations_per_day", "2022-12-22T01:05:00+01:00")
    [request] = recording_server.requests
    assert request.json()["date"] == "2022-12-21"
    assert request.json()["scheduled_time"] == "2022-12-22T01:05:00+01:00"
    assert request.headers["Idempotency-Key"] == "registrations_per_day/2022-12-22T01:05:00+01:00"


def test_empty_periods_post_null_mean_and_zero_counts(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    week = invoke(client, "average_weight_last_week", "2023-06-05T01:00:00Z")
    day = invoke(client, "registrations_per_day", "2023-06-05T00:05:00Z")

    assert [r.json() for r in recording_server.requests] == [week, day]
    assert (week["week"], week["value"], week["count"]) == ("2023-W22", None, 0)
    assert (day["date"], day["count"]) == ("2023-06-04", 0)


def test_token_is_sent_as_bearer(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    env = job_env(registrations_db, recording_server, RESULTS_API_TOKEN="s3cret")
    invoke(chalice_client(tmp_path, env), "registrations_per_day", "2022-12-22T00:05:00Z")
    assert recording_server.requests[0].headers["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("temporary", [500, 503, 429])
def test_temporary_failure_is_retried_with_the_same_body_and_key(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer, temporary: int
) -> None:
    recording_server.responses = [(temporary, {"detail": "busy"}), (201, {"id": 1})]
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    returned = invoke(client, "registrations_per_day", "2022-12-22T00:05:00Z")

    first, second = recording_server.requests
    assert first.json() == second.json() == returned
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_idempotent_repeat_answered_200_is_success(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    recording_server.default = (200, {"id": 1})
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    returned = invoke(client, "registrations_per_day", "2022-12-22T00:05:00Z")
    assert returned["count"] == 3
    assert len(recording_server.requests) == 1


def test_persistent_5xx_fails_the_run_after_the_configured_attempts(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    recording_server.default = (502, {"detail": "bad gateway"})
    env = job_env(registrations_db, recording_server, RESULTS_API_ATTEMPTS="3")
    with pytest.raises(ResultPostError, match=r"after 3 attempts: HTTP 502"):
        invoke(chalice_client(tmp_path, env), "registrations_per_day", "2022-12-22T00:05:00Z")
    assert len(recording_server.requests) == 3


def test_api_down_fails_the_run(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    env = job_env(registrations_db, recording_server, RESULTS_API_ATTEMPTS="2")
    recording_server.stop()
    with pytest.raises(ResultPostError, match="ConnectionError") as failure:
        invoke(chalice_client(tmp_path, env), "average_weight_last_week", "2022-12-19T01:00:00Z")
    assert recording_server.url in str(failure.value)


def test_conflicting_repeat_fails_at_once_and_says_why(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    recording_server.default = (409, {"detail": "different body for this key"})
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    with pytest.raises(ResultPostError, match="already holds a different result"):
        invoke(client, "registrations_per_day", "2022-12-22T00:05:00Z")
    assert len(recording_server.requests) == 1


def test_other_4xx_is_not_retried(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer
) -> None:
    recording_server.default = (401, {"detail": "missing token"})
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    with pytest.raises(ResultPostError, match="HTTP 401"):
        invoke(client, "registrations_per_day", "2022-12-22T00:05:00Z")
    assert len(recording_server.requests) == 1


def _not_a_db(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("this is a text file, not SQLite\n" * 100)
    return path


def _no_table(tmp_path: Path) -> Path:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE visit (id INTEGER PRIMARY KEY)")
    connection.close()
    return path


@pytest.mark.parametrize(
    ("make_db", "problem"),
    [
        (lambda tmp: tmp / "missing.db", "no such file"),
        (_not_a_db, "not a readable SQLite database"),
        (_no_table, "no 'registration' table"),
    ],
    ids=["missing", "not-a-db", "no-table"],
)
@pytest.mark.parametrize("job", ["average_weight_last_week", "registrations_per_day"])
def test_unusable_db_fails_the_run_naming_the_db_and_the_problem(
    tmp_path: Path,
    recording_server: RecordingServer,
    make_db: Callable[[Path], Path],
    problem: str,
    job: str,
) -> None:
    db = make_db(tmp_path)
    client = chalice_client(tmp_path / "project", job_env(db, recording_server))
    with pytest.raises(RegistrationsError) as failure:
        invoke(client, job, "2022-12-19T01:00:00Z")
    assert f"registrations DB {db}" in str(failure.value)
    assert problem in str(failure.value)
    assert recording_server.requests == []


@pytest.mark.parametrize(
    ("job", "time"),
    [
        ("average_weight_last_week", "2022-12-19T01:00:00Z"),
        ("registrations_per_day", "2022-12-22T00:05:00Z"),
    ],
)
def test_the_same_tick_posts_the_same_body_and_key_again(
    tmp_path: Path, registrations_db: Path, recording_server: RecordingServer, job: str, time: str
) -> None:
    client = chalice_client(tmp_path, job_env(registrations_db, recording_server))
    first, again = invoke(client, job, time), invoke(client, job, time)
    assert first == again
    keys = {r.headers["Idempotency-Key"] for r in recording_server.requests}
    assert keys == {f"{job}/{time}"}
    assert recording_server.requests[0].body == recording_server.requests[1].body
