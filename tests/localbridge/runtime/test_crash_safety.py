"""Crash safety: kill -9 localbridge at random moments; nothing lost, nothing doubled.

Real processes throughout: ``python -m localbridge`` running the project's real
jobs in worker processes, posting to the real results API on 127.0.0.1.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localbridge import parse_schedule
from localbridge.ledger.store import Ledger
from localbridge.runtime.catchup import missed_instants
from localbridge.ticks import TickState
from tests.conftest import ResultsApi
from tests.localbridge.real_jobs import (
    copy_project,
    job_env,
    keys_posted,
    ledger_keys,
    registrations_db,
)
from tests.support import (
    PROCESS_START_S,
    RUN_S,
    Process,
    start_process,
    virtual_deadline,
    wait_for,
)

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")

KILLS = 10
REPLAY_CONCURRENCY = 4
SPEED = 172800.0
"""The run test's clock: two days a second, so a daily job fires every 0.5 s."""
JOBS = {
    "average_weight_last_week": "cron(0 1 ? * MON *)",
    "registrations_per_day": "cron(5 0 * * ? *)",
}


def expected_keys(start: datetime, end: datetime) -> set[str]:
    return {
        f"{name}/{instant:%Y-%m-%dT%H:%M:%SZ}"
        for name, expression in JOBS.items()
        for instant in missed_instants(parse_schedule(expression), start, end)
    }


def succeeded_count(ledger_path: Path) -> int:
    if not ledger_path.exists():
        return 0
    ledger = Ledger.open(ledger_path)
    try:
        return ledger.counts().get(TickState.SUCCEEDED, 0)
    finally:
        ledger.close()


def kill_at_a_random_moment(
    process: Process, ledger_path: Path, rng: random.Random, most_progress: int, tick_s: float
) -> None:
    """Let it make some progress (from none to ``most_progress`` ticks, one per
    ``tick_s`` real seconds at most), then kill -9 it."""
    progress = rng.randint(0, most_progress)
    target = succeeded_count(ledger_path) + progress
    wait_for(
        lambda: not process.alive() or succeeded_count(ledger_path) >= target,
        timeout=PROCESS_START_S + progress * (tick_s + RUN_S),
        what="some progress before the kill",
    )
    process.kill9()


@pytest.mark.slow
def test_replay_of_a_year_survives_repeated_kill_9(tmp_path: Path, results_api: ResultsApi) -> None:
    project = copy_project(tmp_path / "project")
    db = registrations_db(tmp_path / "registrations.db")
    ledger = tmp_path / "ledger.db"
    start, end = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)
    command = [
        "-m", "localbridge", "replay", "--from", "2022-01-01T00:00:00Z", "--to",
        "2023-01-01T00:00:00Z", "--ledger", str(ledger), "--project", str(project),
        "--concurrency", str(REPLAY_CONCURRENCY), *job_env(db, results_api.url),
        *JOBS,  # the shipped jobs it checks, whatever else a user added to functions/
    ]  # fmt: skip
    rng = random.Random(20221222)
    for attempt in range(KILLS):
        process = start_process(command, tmp_path / f"replay-{attempt}.log")
        kill_at_a_random_moment(process, ledger, rng, most_progress=40, tick_s=0)
    final = start_process(command, tmp_path / "replay-final.log")
    expected = expected_keys(start, end)
    assert len(expected) == 417
    work = PROCESS_START_S + len(expected) * RUN_S / REPLAY_CONCURRENCY
    assert final.popen.wait(timeout=work) == 0, final.log()

    posted = keys_posted(results_api.url)
    assert set(posted) == expected
    assert set(posted.values()) == {1}
    assert ledger_keys(ledger, TickState.SUCCEEDED) == expected
    assert "(417 had already succeeded)" not in final.log()  # the kills did interrupt it


@pytest.mark.slow
def test_run_with_a_virtual_clock_survives_repeated_kill_9(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    # Every run of the 40 days is checked at the end: retention keeps them all.
    project = copy_project(tmp_path / "project", {"retention_days": None})
    db = registrations_db(tmp_path / "registrations.db")
    ledger_path = tmp_path / "ledger.db"
    start = datetime(2022, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=40)
    rng = random.Random(1222)

    def command(clock_start: datetime) -> list[str]:
        return [
            "-m", "localbridge", "run", "--clock-start", clock_start.isoformat(),
            "--speed", str(SPEED), "--ledger", str(ledger_path), "--project", str(project),
            *job_env(db, results_api.url),
        ]  # fmt: skip

    def resume_point() -> datetime:
        """Where the crashed run's clock had got to, plus some downtime (< max event age)."""
        ledger = Ledger.open(ledger_path)
        try:
            through = max(mark.scheduled_through for mark in ledger.function_marks().values())
        finally:
            ledger.close()
        return through + timedelta(minutes=rng.randint(0, 300))

    clock_start = start
    for attempt in range(KILLS):
        process = start_process(command(clock_start), tmp_path / f"run-{attempt}.log")
        wait_for(lambda: "scheduled function" in process.log(), PROCESS_START_S, "run to start")  # noqa: B023
        kill_at_a_random_moment(process, ledger_path, rng, most_progress=4, tick_s=86400 / SPEED)
        clock_start = resume_point()
    assert clock_start < end  # the kills did interrupt the period
    final = start_process(command(clock_start), tmp_path / "run-final.log")
    expected = expected_keys(start, end)
    # The clock's way through the rest of the period, plus every run in it.
    deadline = virtual_deadline(end - clock_start, SPEED) + len(expected) * RUN_S
    wait_for(
        lambda: expected <= ledger_keys(ledger_path, TickState.SUCCEEDED),
        timeout=deadline,
        what="every tick of the period to succeed",
    )
    assert final.stop() == 0, final.log()

    posted = keys_posted(results_api.url)
    assert expected <= set(posted)
    assert set(posted.values()) == {1}
