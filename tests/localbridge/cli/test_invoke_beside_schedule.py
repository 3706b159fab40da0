"""An invocation never consumes a scheduled tick, as in AWS.

``localbridge invoke NAME --time T`` runs the function with T's scheduled
event; a later ``localbridge run`` over T still fires the scheduled tick at T.
Its post repeats the invocation's Idempotency-Key, so the results API answers
it as a repeat (200) and keeps one result. Real processes: ``python -m
localbridge`` on a throwaway project, the real results API, a real ledger.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from localbridge.ledger.store import Ledger
from localbridge.ticks import TickSource, TickState
from tests.conftest import ResultsApi
from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.real_jobs import keys_posted
from tests.localbridge.runtime.harness import write_project
from tests.support import start_process, virtual_deadline, wait_for

T = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)
AT = "2022-12-19T01:00:00Z"
CLOCK_START = "2022-12-19T00:59:00Z"
SPEED = 600.0

# Posts one result per scheduled time, keyed as the project's jobs key theirs;
# answers the API's status (a 4xx or 5xx raises: the run fails).
POSTS = """
import json
import urllib.request


@app.schedule(Cron(0, "*", "*", "*", "?", "*"))
def posts(event):
    body = json.dumps({"metric": "ticks", "scheduled_time": event.time}).encode()
    request = urllib.request.Request(
        os.environ["RESULTS_API_URL"] + "/result",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": "posts/" + event.time},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return {"status": response.status, "time": event.time}
"""


def ticks_at(ledger_path: Path, instant: datetime) -> list[tuple[TickSource, TickState, str]]:
    """(source, state, last payload) of every tick of ``posts`` at ``instant``, oldest first."""
    ledger = Ledger.open(ledger_path)
    try:
        found = []
        for tick in ledger.find("posts"):
            if tick.scheduled_at == instant:
                attempts = ledger.attempts(tick.id)
                payload = attempts[-1].payload if attempts else None
                found.append((tick.source, tick.state, payload or ""))
        return found
    finally:
        ledger.close()


def scheduled_succeeded(ledger_path: Path) -> bool:
    return any(
        source is TickSource.SCHEDULE and state is TickState.SUCCEEDED
        for source, state, _ in ticks_at(ledger_path, T)
    )


def run_over_t(project: Path) -> str:
    """``localbridge run`` with a virtual clock over T (and nothing after it); its log."""
    args = ["-m", "localbridge", "run", "--clock-start", CLOCK_START, "--speed", str(SPEED),
            "--clock-end", AT, "--ledger", "l.db", "--mode", "thread", "--port", "0"]  # fmt: skip
    process = start_process(args, project / "run.log", cwd=project)
    span = T - datetime.fromisoformat(CLOCK_START)
    wait_for(
        lambda: not process.alive() or scheduled_succeeded(project / "l.db"),
        virtual_deadline(span, SPEED),
        what=f"the scheduled tick at {AT} to succeed",
    )
    assert process.stop() == 0, process.log()
    return process.log()


def test_run_fires_the_scheduled_tick_an_invoke_of_that_instant_ran_before(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    environment = {"RESULTS_API_URL": results_api.url}
    project = write_project(tmp_path / "p", POSTS, environment=environment)
    invoked = localbridge(
        "invoke", "posts", "--time", AT, "--ledger", "l.db", "--mode", "thread", cwd=project
    )
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == {"status": 201, "time": AT}

    log = run_over_t(project)

    (by_hand, scheduled) = ticks_at(project / "l.db", T)
    assert by_hand[:2] == (TickSource.INVOKE, TickState.SUCCEEDED)
    assert scheduled[:2] == (TickSource.SCHEDULE, TickState.SUCCEEDED), log
    # The same key: the API answered the scheduled post as a repeat, not an error.
    assert json.loads(scheduled[2]) == {"status": 200, "time": AT}
    assert keys_posted(results_api.url) == {f"posts/{AT}": 1}
    assert f"posts {AT}" in log  # the run log line of the scheduled run


def test_runs_shows_the_invocation_and_the_scheduled_run_of_one_instant(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    environment = {"RESULTS_API_URL": results_api.url}
    project = write_project(tmp_path / "p", POSTS, environment=environment)
    invoked = localbridge(
        "invoke", "posts", "--time", AT, "--ledger", "l.db", "--mode", "thread", cwd=project
    )
    assert invoked.returncode == 0, invoked.stderr
    run_over_t(project)

    runs = localbridge("runs", "--ledger", "l.db", "--json", cwd=project)
    assert runs.returncode == 0, runs.stderr
    shown = sorted((r["scheduled_at"], r["source"], r["state"]) for r in json.loads(runs.stdout))
    assert shown == [(AT, "invoke", "succeeded"), (AT, "schedule", "succeeded")]
    stats = localbridge("stats", "--ledger", "l.db", cwd=project)
    assert stats.returncode == 0, stats.stderr
    assert "2 succeeded" in stats.stdout
