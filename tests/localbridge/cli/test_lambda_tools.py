"""``logs``, ``generate-event``, ``invoke --event`` and ``runs --json`` as users run them.

Real ``python -m localbridge`` subprocesses on a throwaway Chalice project and
a real ledger file; ``logs --follow`` is a long-running process stopped by PID.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.localbridge.runtime.harness import HOURLY, RAISES, write_project
from tests.support import python_env, start_process, wait_for

ACCOUNT = {"LOCALBRIDGE_ACCOUNT_ID": "000000000000", "AWS_DEFAULT_REGION": "us-east-1"}
AT = "2022-12-19T00:05:00Z"


def localbridge(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localbridge", *args],
        cwd=cwd,
        env=python_env({**ACCOUNT, **(env or {})}),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_generate_event_prints_the_event_of_a_functions_rule(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    done = localbridge("generate-event", "hourly", "--time", AT, cwd=project)
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    assert event["version"] == "0"  # SAM's sample lacks it, and Chalice needs it
    assert (event["time"], event["account"], event["detail-type"]) == (
        AT,
        "000000000000",
        "Scheduled Event",
    )
    assert event["resources"] == [
        "arn:aws:events:us-east-1:000000000000:rule/rt-local-hourly-event"
    ]


def test_a_generated_event_is_delivered_by_invoke_event(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    event = localbridge("generate-event", "hourly", "--time", AT, cwd=project).stdout
    done = localbridge("invoke", "hourly", "--event", "-", "--ledger", "l.db", cwd=project,
                       stdin=event)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"time": AT}
    # The run's log, framed as Lambda's, goes to stderr.
    assert "\nSTART RequestId: " in done.stderr


def test_invoke_event_that_is_not_an_object_says_so(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    (project / "list.json").write_text("[1, 2]")
    for source, message in [
        ("list.json", "holds a JSON list"),
        ("missing.json", "cannot read it"),
    ]:
        done = localbridge("invoke", "hourly", "--event", source, "--ledger", "l.db", cwd=project)
        assert done.returncode == 2
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_logs_show_each_run_framed_with_the_error_line(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", RAISES)
    invoked = localbridge("invoke", "raises", "--time", AT, "--ledger", "l.db", cwd=project)
    assert invoked.returncode == 1

    done = localbridge("logs", "raises", "--ledger", "l.db", cwd=project)
    later = localbridge("logs", "raises", "--since", "2030-01-01", "--ledger", "l.db", cwd=project)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("START RequestId: ")
    assert lines[1] == f"[ERROR] RuntimeError: failed at {AT}"
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-2].startswith("END RequestId: ")
    assert lines[-1].startswith("REPORT RequestId: ")
    assert later.stdout == ""
    assert "no finished runs of 'raises'" in later.stderr


def test_runs_json_carries_each_attempts_log_and_the_delivery_ids(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    localbridge("invoke", "hourly", "--time", AT, "--ledger", "l.db", cwd=project)
    done = localbridge("runs", "--json", "--ledger", "l.db", cwd=project)
    [run] = json.loads(done.stdout)
    [attempt] = run["attempts"]
    assert attempt["logs"].startswith(f"START RequestId: {run['request_id']} Version: $LATEST\n")
    assert run["event_id"]


def test_logs_follow_prints_runs_as_they_finish(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    localbridge("invoke", "hourly", "--time", AT, "--ledger", "l.db", cwd=project)
    follower = start_process(
        ["-m", "localbridge", "logs", "hourly", "--follow", "--poll", "0.05", "--ledger",
         str(project / "l.db")],
        tmp_path / "follow.log", env=ACCOUNT, cwd=project,
    )  # fmt: skip
    try:
        wait_for(lambda: follower.log().count("START RequestId") == 1, 60, "the first run")
        later = localbridge("invoke", "hourly", "--time", "2022-12-19T01:05:00Z", "--ledger",
                            "l.db", cwd=project)  # fmt: skip
        assert later.returncode == 0, later.stderr
        wait_for(lambda: follower.log().count("REPORT RequestId") == 2, 60, "the second run")
    finally:
        code = follower.stop()
    assert code == 0
    assert follower.log().count("START RequestId") == 2


def test_an_account_id_that_is_not_twelve_digits_is_refused(tmp_path: Path) -> None:
    done = localbridge("next", "rate(1 hour)", cwd=tmp_path, env={"LOCALBRIDGE_ACCOUNT_ID": "42"})
    assert done.returncode == 2
    assert "LOCALBRIDGE_ACCOUNT_ID" in done.stderr
    assert "twelve digits" in done.stderr
