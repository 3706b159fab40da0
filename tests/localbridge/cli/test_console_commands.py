"""``pause``, ``resume``, ``list`` and ``console`` as users run them, in real subprocesses."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from localbridge.clock import ManualClock
from localbridge.ledger.store import Ledger
from localbridge.project.loading import load_functions
from localbridge.runtime.assemble import Mode, make_invoker, make_runtime
from localbridge.ticks import TickState
from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.runtime.harness import EVERY_MINUTE, HOURLY, T0, write_project
from tests.support import free_port, http_ok, running, start_process, wait_for


def test_pause_and_resume_persist_and_list_shows_them(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY, EVERY_MINUTE)
    paused = localbridge("pause", "hourly", "--ledger", "l.db", cwd=project)
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.strip() == "hourly: paused"
    listed = localbridge("list", "--ledger", "l.db", cwd=project).stdout.splitlines()
    assert listed[0].split()[-1] == "status"
    assert next(r for r in listed if r.startswith("hourly")).endswith("paused")
    assert next(r for r in listed if r.startswith("every_minute")).endswith("active")

    resumed = localbridge("resume", "--all", "--ledger", "l.db", cwd=project)
    assert resumed.stdout.splitlines() == ["every_minute: resumed (was not paused)",
                                           "hourly: resumed"]  # fmt: skip
    unknown = localbridge("pause", "nope", "--ledger", "l.db", cwd=project)
    assert unknown.returncode == 2
    assert "'nope'" in unknown.stderr
    assert "hourly" in unknown.stderr
    assert localbridge("pause", "--ledger", "l.db", cwd=project).returncode == 2


def test_console_browses_a_ledger_without_running_anything(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ledger_path = tmp_path / "l.db"
    ledger = Ledger.open(ledger_path)
    invoker = make_invoker(Mode.THREAD, project)
    runtime = make_runtime(load_functions(project, "local", {}), ledger, invoker, ManualClock(T0))
    runtime.prepare()
    runtime.invoke_now("hourly")
    invoker.close()
    ledger.close()

    port = free_port()
    process = start_process(
        ["-m", "localbridge", "console", "--ledger", str(ledger_path), "--console-port",
         str(port)], tmp_path / "console.log", cwd=tmp_path,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running(process, lambda: http_ok(url + "/")):
        functions = requests.get(url + "/index.json", timeout=10).json()
        assert [f["name"] for f in functions["functions"]] == ["hourly"]
        assert functions["functions"][0]["last_run"]["state"] == "succeeded"
        assert functions["can_run"] is False
        page = requests.get(url + "/", timeout=10).text
        assert "Invoke now" not in page
        token = re.search(r'name="token" value="([^"]+)"', page)
        assert token
        form = {"token": token[1], "function": "hourly"}
        invoke = requests.post(url + "/actions/invoke", data=form, allow_redirects=False,
                               timeout=10)  # fmt: skip
        assert invoke.status_code == 409
        assert "localbridge run" in invoke.text
        pause = requests.post(url + "/actions/pause", data=form, allow_redirects=False,
                              timeout=10)  # fmt: skip
        assert pause.status_code == 303
    assert "console on" in process.log()
    assert (
        localbridge("list", "--ledger", str(ledger_path), cwd=project)
        .stdout.splitlines()[1]
        .endswith("paused")
    )


def test_console_without_a_ledger_says_so(tmp_path: Path) -> None:
    done = localbridge("console", "--ledger", "missing.db", cwd=tmp_path)
    assert done.returncode == 2
    assert "no ledger at missing.db" in done.stderr


def test_run_fires_nothing_past_clock_end_and_keeps_serving(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ledger_path = tmp_path / "l.db"
    process = start_process(
        ["-m", "localbridge", "run", "--ledger", str(ledger_path), "--mode", "thread",
         "--clock-start", "2022-12-19T00:00:30Z", "--speed", "36000",
         "--clock-end", "2022-12-19T03:00:00Z", "--port", "0", "--console-port", "0"],
        tmp_path / "run.log", cwd=project,
    )  # fmt: skip
    wait_for(lambda: "passed --clock-end 2022-12-19T03:00:00Z" in process.log(), 60,
             "the clock to pass its end")  # fmt: skip
    console = re.search(r"console on (http://\S+)", process.log())
    assert console, process.log()
    assert http_ok(console[1])  # still serving
    assert process.alive()
    ledger = Ledger.open(ledger_path)
    try:
        wait_for(lambda: len(ledger.find("hourly", TickState.SUCCEEDED)) == 3, 30, "3 runs")
        fired = [t.scheduled_at.hour for t in ledger.find("hourly")]
    finally:
        ledger.close()
    assert fired == [1, 2, 3]
    assert process.stop() == 0
