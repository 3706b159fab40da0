"""The results API goes down: runs fail and retry, outlived ticks go dead, redrive delivers.

The project's real jobs in worker processes, the real results API (stopped and
restarted on the same port and database), a ManualClock for the runtime.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localbridge.clock import ManualClock
from localbridge.runtime.assemble import Mode
from localbridge.ticks import AttemptOutcome, TickState
from tests.conftest import ResultsApi
from tests.localbridge.real_jobs import copy_project, job_env, keys_posted, registrations_db
from tests.localbridge.runtime.harness import attempts_of, started_runtime, wait_for_state
from tests.support import http_ok, python_env, running, start_process

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")

SUNDAY = datetime(2022, 12, 18, 23, 59, tzinfo=UTC)
DAILY = datetime(2022, 12, 19, 0, 5, tzinfo=UTC)
WEEKLY = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)
DAILY_KEY = "registrations_per_day/2022-12-19T00:05:00Z"
WEEKLY_KEY = "average_weight_last_week/2022-12-19T01:00:00Z"


def env_overrides(options: list[str]) -> dict[str, str]:
    pairs = options[1::2]
    return dict(pair.split("=", 1) for pair in pairs)


@pytest.mark.slow
def test_an_api_outage_is_retried_dead_lettered_and_redriven(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    project = copy_project(tmp_path / "project")
    options = job_env(registrations_db(tmp_path / "registrations.db"), results_api.url)
    ledger_path = tmp_path / "ledger.db"
    clock = ManualClock(SUNDAY)
    results_api.process.stop()  # the outage begins
    with started_runtime(
        project, ledger_path, clock, mode=Mode.PROCESS, env=env_overrides(options)
    ) as runtime:
        ledger = runtime.ledger
        # The daily tick fails, retries after 1 and 2 more minutes, then is dead.
        for attempts, (minutes, state) in enumerate(
            [(0, TickState.RETRYING), (1, TickState.RETRYING), (3, TickState.DEAD)], start=1
        ):
            clock.set(DAILY + timedelta(minutes=minutes))
            wait_for_state(ledger, "registrations_per_day", DAILY, state, attempts=attempts)
        # The weekly tick fails once, then the API comes back before its retry.
        clock.set(WEEKLY)
        wait_for_state(ledger, "average_weight_last_week", WEEKLY, TickState.RETRYING)
        port = results_api.url.rsplit(":", 1)[1]
        env = {"HOST": "127.0.0.1", "PORT": port, "RESULTS_DB": str(results_api.db_path)}
        api = start_process(["-m", "api"], tmp_path / "api-again.log", env=env)
        with running(api, lambda: http_ok(f"{results_api.url}/health")):
            clock.set(WEEKLY + timedelta(minutes=1))
            wait_for_state(ledger, "average_weight_last_week", WEEKLY, TickState.SUCCEEDED)
            outcomes = [a.outcome for a in attempts_of(ledger, "average_weight_last_week", WEEKLY)]
            assert outcomes == [AttemptOutcome.ERROR, AttemptOutcome.SUCCEEDED]
            assert keys_posted(results_api.url) == {WEEKLY_KEY: 1}
            runtime.stop()

            redriven = subprocess.run(
                [sys.executable, "-m", "localbridge", "dlq", "redrive", "registrations_per_day",
                 "--ledger", str(ledger_path), "--project", str(project), *options],
                env=python_env(), capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert redriven.returncode == 0, redriven.stderr
            assert "1 succeeded" in redriven.stdout
            assert keys_posted(results_api.url) == {WEEKLY_KEY: 1, DAILY_KEY: 1}

            # Delivering the same tick again (at-least-once) stores nothing new.
            again = runtime.invoke_now("registrations_per_day", at=DAILY)
            assert again.result.succeeded
            assert keys_posted(results_api.url) == {WEEKLY_KEY: 1, DAILY_KEY: 1}
            assert ledger.find(state=TickState.DEAD) == []
