"""The CLI as users run it: ``python -m localbridge ...`` in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.localbridge.runtime.harness import EVERY_MINUTE, HOURLY, RAISES, write_project
from tests.support import ROOT, python_env


def localbridge(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localbridge", *args],
        cwd=cwd,
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_next_prints_one_utc_instant_per_line() -> None:
    done = localbridge("next", "cron(0 1 ? * MON *)", "--after", "2022-12-18T00:00:00Z", "-n", "3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2022-12-19T01:00:00Z",
        "2022-12-26T01:00:00Z",
        "2023-01-02T01:00:00Z",
    ]


def test_next_anchors_a_rate_at_after() -> None:
    done = localbridge("next", "rate(5 minutes)", "--after", "2022-12-18T00:00:00Z", "-n", "2")
    assert done.stdout.splitlines() == ["2022-12-18T00:05:00Z", "2022-12-18T00:10:00Z"]


def test_next_rejects_an_invalid_expression_with_exit_2() -> None:
    done = localbridge("next", "cron(0 1 * * MON *)")
    assert done.returncode == 2
    assert "day-of-month" in done.stderr
    assert done.stdout == ""


def test_bad_usage_exits_2() -> None:
    assert localbridge("next", "rate(1 minute)", "-n", "zero").returncode == 2
    assert localbridge("replay", "--from", "yesterday", "--to", "now").returncode == 2


def test_invoke_prints_the_payload(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    done = localbridge(
        "invoke", "hourly", "--time", "2022-12-19T00:05:00Z", "--ledger", "l.db", cwd=project
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"time": "2022-12-19T00:05:00Z"}
    runs = localbridge("runs", "--ledger", "l.db", "--json", cwd=project)
    (tick,) = json.loads(runs.stdout)
    assert (tick["function"], tick["state"], tick["source"]) == ("hourly", "succeeded", "invoke")
    assert tick["scheduled_at"] == "2022-12-19T00:05:00Z"


def test_invoke_of_a_failing_function_exits_1_with_the_traceback(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", RAISES)
    done = localbridge("invoke", "raises", "--ledger", "l.db", "--mode", "thread", cwd=project)
    assert done.returncode == 1
    assert "RuntimeError: failed at" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr


def test_invoke_of_an_unknown_function_names_the_known_ones(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    done = localbridge("invoke", "nope", "--ledger", "l.db", "--mode", "thread", cwd=project)
    assert done.returncode == 2
    assert "'nope'" in done.stderr
    assert "hourly" in done.stderr


def test_list_shows_expression_description_timeout_and_next_times(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY, EVERY_MINUTE)
    done = localbridge("list", "--ledger", "l.db", cwd=project)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:4] == ["function", "expression", "description", "timeout"]
    hourly = next(row for row in rows if row.startswith("hourly"))
    assert "cron(0 * * * ? *)" in hourly
    assert "5 s" in hourly
    assert hourly.count(":00:00Z") == 3


def test_list_imports_the_app_itself_keeping_its_prints_off_the_table(tmp_path: Path) -> None:
    chatty = '\nprint("hello from app.py")\n'
    project = write_project(tmp_path / "p", HOURLY, chatty)
    done = localbridge("list", "--ledger", "l.db", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "hello from app.py" not in done.stdout
    assert "hello from app.py" in done.stderr
    assert done.stdout.splitlines()[1].startswith("hourly")


def test_list_of_an_app_that_fails_to_import_exits_2_with_its_traceback(tmp_path: Path) -> None:
    broken = '\nraise ValueError("broken at import")\n'
    project = write_project(tmp_path / "p", HOURLY, broken)
    done = localbridge("list", "--ledger", "l.db", cwd=project)
    assert done.returncode == 2
    assert "failed to import" in done.stderr
    assert "ValueError: broken at import" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"defaults": {"catch_up": "sometimes"}}, "stages.local.localbridge.defaults.catch_up"),
        ({"defaults": {"maximum_retry_attempts": -1}}, "maximum_retry_attempts"),
        ({"functions": {"weekly": {}}}, "localbridge.functions.weekly"),
    ],
)
def test_bad_configuration_stops_run_with_exit_2_naming_the_key(
    tmp_path: Path, settings: dict[str, object], named: str
) -> None:
    project = write_project(tmp_path / "p", HOURLY, localbridge=settings)
    done = localbridge("run", "--ledger", "l.db", cwd=project)
    assert done.returncode == 2
    assert named in done.stderr


def test_an_invalid_expression_stops_run_naming_function_and_expression(tmp_path: Path) -> None:
    bad = '\n@app.schedule("cron(0 1 * * MON *)")\ndef weekly(event):\n    return 1\n'
    project = write_project(tmp_path / "p", HOURLY, bad)
    done = localbridge("run", "--ledger", "l.db", cwd=project)
    assert done.returncode == 2
    assert "weekly" in done.stderr
    assert "cron(0 1 * * MON *)" in done.stderr


def test_dlq_list_and_runs_without_a_ledger_name_it(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    for command in (["runs"], ["dlq", "list"]):
        done = localbridge(*command, "--ledger", "l.db", cwd=project)
        assert done.returncode == 2  # a mistyped --ledger is not an empty history
        assert "no ledger at l.db" in done.stderr
