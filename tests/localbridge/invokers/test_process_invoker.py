"""Process mode: warm workers, timeouts that kill, crashes that fail one run, isolation.

Every test runs real worker processes and waits for outcomes under deadlines.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localbridge.invokers.process import InvokerClosedError, ProcessInvoker
from localbridge.invokers.thread import ThreadInvoker
from localbridge.model import Outcome
from tests.localbridge.chalice_project import spec, write_project
from tests.localbridge.invokers.support import (
    DEADLINE_S,
    IDENTITY,
    invoke,
    printed,
    result_of,
    started_markers,
    with_reload,
)
from tests.support import start_process, wait_for

# -- process mode --------------------------------------------------------------


def test_worker_stays_warm_and_is_reused(process_invoker: ProcessInvoker) -> None:
    function = spec("exits")

    first, second = invoke(process_invoker, function), invoke(process_invoker, function)

    assert first.payload == second.payload
    assert first.payload != os.getpid()
    assert process_invoker.worker_pids(function) == [first.payload]


def test_idle_workers_beyond_the_cap_retire(
    project: Path, tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    gate = tmp_path / "gate"
    function = spec("gated_version", GATE=str(gate))
    invoker = ProcessInvoker(project, IDENTITY, max_idle_per_function=1)
    try:
        runs = [pool.submit(invoke, invoker, function) for _ in range(2)]
        try:
            wait_for(lambda: len(started_markers(gate)) == 2, DEADLINE_S, "both runs to start")
        finally:
            gate.touch()
        pids = {result_of(run).payload["pid"] for run in runs}

        [kept] = invoker.worker_pids(function)
        assert kept in pids
        [retired] = pids - {kept}
        wait_for(lambda: gone(retired), DEADLINE_S, f"worker {retired} to exit")
    finally:
        invoker.close()


def test_run_past_its_timeout_is_killed(
    process_invoker: ProcessInvoker, pool: ThreadPoolExecutor
) -> None:
    function = spec("blocks", timeout_s=1)

    result = result_of(pool.submit(invoke, process_invoker, function))

    assert result.outcome is Outcome.TIMEOUT
    assert result.error_message == "Task timed out after 1.00 seconds"
    assert result.duration_ms >= 1000
    assert process_invoker.worker_pids(function) == []


def test_timeout_also_kills_what_the_function_started(
    process_invoker: ProcessInvoker, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    function = spec("spawns_child", timeout_s=2, CHILD_PID_FILE=str(pid_file))

    result = invoke(process_invoker, function)

    assert result.outcome is Outcome.TIMEOUT
    child = int(pid_file.read_text())
    wait_for(lambda: gone(child), DEADLINE_S, f"child process {child} to be gone")


def test_workers_exit_when_their_invoker_process_dies(project: Path, tmp_path: Path) -> None:
    script = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "from localbridge.invokers.process import ProcessInvoker\n"
        "from tests.localbridge.chalice_project import spec\n"
        "invoker = ProcessInvoker(Path(sys.argv[1]))\n"
        "invoker.warm([spec('echo')])\n"
        "print('worker', *invoker.worker_pids(spec('echo')), flush=True)\n"
        "threading.Event().wait()\n"
    )
    parent = start_process(["-c", script, str(project)], tmp_path / "parent.log")
    try:
        line = wait_for(lambda: worker_line(parent.log()), DEADLINE_S, "the worker to start")
        worker = int(line.split()[1])
        assert not gone(worker)
    finally:
        parent.kill9()
    wait_for(lambda: gone(worker), DEADLINE_S, f"worker {worker} to exit")


def worker_line(log: str) -> str | None:
    return next((line for line in log.splitlines() if line.startswith("worker ")), None)


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


@pytest.mark.parametrize(
    ("name", "how", "logs"),
    [
        ("exits", "exit status 3", "exiting hard\n"),
        ("kills_itself", "signal: killed", ""),
        ("segfaults", "signal: segmentation fault (core dumped)", "from a child\n"),
    ],
)
def test_worker_that_dies_fails_only_that_run(
    process_invoker: ProcessInvoker, name: str, how: str, logs: str
) -> None:
    function = spec(name)
    before = invoke(process_invoker, function).payload

    crashed = invoke(process_invoker, function, crash=True)
    after = invoke(process_invoker, function)

    assert crashed.outcome is Outcome.CRASHED
    assert crashed.error_message == f"Runtime exited with error: {how}"
    assert printed(crashed.logs) == (
        f"{logs}RequestId: req-1 Error: Runtime exited with error: {how}\nRuntime.ExitError\n"
    )
    assert after.outcome is Outcome.SUCCEEDED
    assert after.payload != before  # a fresh worker


def test_worker_sees_only_its_configured_and_lambda_environment(
    process_invoker: ProcessInvoker, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKED_FROM_PARENT", "secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key")
    function = spec(
        "echo",
        CONFIGURED="yes",
        AWS_REGION="configured-region",
        PYTHONPATH="/extra",
        TZ="Europe/Paris",
        LANG="C.UTF-8",
        PATH="/configured/bin:/usr/bin",
    )

    payload = invoke(process_invoker, function).payload
    environ = payload["environ"]

    assert "LEAKED_FROM_PARENT" not in environ
    assert environ["CONFIGURED"] == "yes"
    assert environ["AWS_ACCESS_KEY_ID"] == "testing-key"
    assert environ["AWS_REGION"] == environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "demo-dev-echo"
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert environ["AWS_LAMBDA_LOG_STREAM_NAME"] == payload["log_stream"]
    assert environ["LAMBDA_TASK_ROOT"] == payload["cwd"] == str(project.resolve())
    assert environ["PYTHONPATH"] == f"{project.resolve()}:/extra"
    # Lambda only defaults these: a configured value stands.
    assert (environ["TZ"], environ["LANG"]) == ("Europe/Paris", "C.UTF-8")
    assert environ["PATH"] == "/configured/bin:/usr/bin"
    assert environ["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert Path(environ["LAMBDA_RUNTIME_DIR"]).is_dir()
    assert environ["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert environ["_HANDLER"] == "tasks.echo"


def test_lambdas_defaults_apply_when_nothing_is_configured(
    process_invoker: ProcessInvoker,
) -> None:
    environ = invoke(process_invoker, spec("echo")).payload["environ"]

    assert (environ["TZ"], environ["LANG"]) == (":UTC", "en_US.UTF-8")


def test_a_localbridge_package_in_the_project_does_not_shadow_the_running_one(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "project")
    (project / "localbridge").mkdir()
    (project / "localbridge" / "__init__.py").write_text("raise ImportError('not this one')\n")
    invoker = ProcessInvoker(project, IDENTITY)
    try:
        assert invoke(invoker, spec("echo")).outcome is Outcome.SUCCEEDED
    finally:
        invoker.close()


def test_thread_mode_keeps_the_running_localbridge_whatever_the_project_holds(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "project")
    (project / "localbridge").mkdir()
    (project / "json").mkdir()
    running = sys.modules["localbridge"], sys.modules["json"]
    invoker = ThreadInvoker(project, IDENTITY)
    try:
        assert invoke(invoker, spec("echo")).outcome is Outcome.SUCCEEDED
        assert (sys.modules["localbridge"], sys.modules["json"]) == running
    finally:
        invoker.close()
    assert str(project.resolve()) not in sys.path


def test_close_stops_a_run_that_outlives_the_grace(
    process_invoker: ProcessInvoker, pool: ThreadPoolExecutor
) -> None:
    function = spec("blocks", timeout_s=60)
    process_invoker.warm([function])
    [pid] = process_invoker.worker_pids(function)
    run = pool.submit(invoke, process_invoker, function)
    wait_for(lambda: process_invoker.worker_pids(function) == [], DEADLINE_S, "the run to start")

    process_invoker.close(grace_s=0.2)

    assert result_of(run).outcome is Outcome.CRASHED
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(InvokerClosedError):
        invoke(process_invoker, spec("echo"))


def test_reload_serves_new_code_while_a_running_invocation_finishes_on_the_old(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    project = write_project(tmp_path / "project")
    gate = tmp_path / "gate"
    gated = spec("gated_version", GATE=str(gate))
    with_reload(ProcessInvoker(project, IDENTITY), project, gate, gated, pool)
