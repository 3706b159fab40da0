"""Both invokers against a real Chalice project: results, failures, isolation, reload.

Process mode runs real worker processes; thread mode runs in this process.
Tests wait for outcomes under deadlines; nothing sleeps to let time pass.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from localbridge.events import AwsIdentity, scheduled_event
from localbridge.invokers.process import InvokerClosedError, ProcessInvoker
from localbridge.invokers.thread import ThreadInvoker
from localbridge.model import FunctionSpec, InvocationResult, Invoker, Outcome
from tests.localbridge.chalice_project import set_version, spec, write_project
from tests.support import ROOT, start_process, wait_for

IDENTITY = AwsIdentity(account="123456789012", region="eu-west-1")
AT = datetime(2022, 12, 19, 0, 5, tzinfo=UTC)
DEADLINE_S = 30.0
MODES: dict[str, Callable[[Path], Invoker]] = {
    "process": lambda project: ProcessInvoker(project, IDENTITY),
    "thread": lambda project: ThreadInvoker(project, IDENTITY),
}


def event_for(function: FunctionSpec, **detail: Any) -> dict[str, Any]:
    event = scheduled_event(function, AT, IDENTITY)
    event["detail"] = detail
    return event


def invoke(invoker: Invoker, function: FunctionSpec, **detail: Any) -> InvocationResult:
    return invoker.invoke(function, event_for(function, **detail), "req-1")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project"))


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


@pytest.fixture(params=sorted(MODES))
def invoker(request: pytest.FixtureRequest, project: Path) -> Iterator[Invoker]:
    started = MODES[request.param](project)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def process_invoker(project: Path) -> Iterator[ProcessInvoker]:
    started = ProcessInvoker(project, IDENTITY)
    try:
        yield started
    finally:
        started.close()


def result_of(future: Future[InvocationResult]) -> InvocationResult:
    return future.result(timeout=DEADLINE_S)


def started_markers(gate: Path) -> list[Path]:
    return sorted(gate.parent.glob(f"{gate.name}.*.started"))


# -- both modes ---------------------------------------------------------------


def test_handler_gets_the_event_and_a_lambda_context(invoker: Invoker, project: Path) -> None:
    function = spec("echo", timeout_s=7)
    event = event_for(function)

    result = invoker.invoke(function, event, "request-42")

    assert result.outcome is Outcome.SUCCEEDED, result
    payload = result.payload
    assert payload["event"] == event
    assert payload["function_name"] == "demo-dev-echo"
    assert payload["function_version"] == "$LATEST"
    assert payload["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:demo-dev-echo"
    assert payload["memory"] == "128"
    assert payload["request_id"] == "request-42"
    assert payload["log_group"] == "/aws/lambda/demo-dev-echo"
    assert "[$LATEST]" in payload["log_stream"]
    assert 0 < payload["remaining_ms"] <= 7000
    assert result.started_at <= result.ended_at


def test_handler_exception_is_an_error_with_traceback(invoker: Invoker) -> None:
    result = invoke(invoker, spec("fails"))

    assert result.outcome is Outcome.ERROR
    assert result.error_type == "ValueError"
    assert result.error_message == "no rows for 2022-12-19T00:05:00Z"
    assert result.traceback is not None
    assert 'tasks.py", line' in result.traceback
    assert "raise ValueError" in result.traceback
    assert result.payload is None


def test_prints_are_the_runs_logs(invoker: Invoker) -> None:
    first = invoke(invoker, spec("echo"))
    failed = invoke(invoker, spec("fails"))

    assert first.logs == "echo ran at 2022-12-19T00:05:00Z\n"
    assert failed.logs == "about to fail\n"


def test_logs_keep_the_last_64_kib(invoker: Invoker) -> None:
    result = invoke(invoker, spec("chatty"))

    assert result.payload == "said a lot"
    assert result.logs.endswith("x" * 1000 + "\n")
    first_line, _, kept = result.logs.partition("\n")
    assert first_line.startswith("[")
    assert first_line.endswith("dropped]")
    assert len(kept) == 64 * 1024


def test_unserialisable_return_value_is_an_error(invoker: Invoker) -> None:
    result = invoke(invoker, spec("unserialisable"))

    assert result.outcome is Outcome.ERROR
    assert result.error_type == "Runtime.MarshalError"
    assert "not JSON serializable" in (result.error_message or "")


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("tasks.missing", "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'tasks'"),
        ("nowhere.fn", "Runtime.ImportModuleError", "Unable to import module 'nowhere'"),
    ],
)
def test_unresolvable_handler_is_an_error(
    invoker: Invoker, handler: str, error_type: str, message: str
) -> None:
    function = FunctionSpec("broken", handler, "rate(1 minute)", "demo", "dev")

    result = invoke(invoker, function)

    assert (result.outcome, result.error_type) == (Outcome.ERROR, error_type)
    assert message in (result.error_message or "")


def test_sys_exit_ends_the_run_as_a_crash(invoker: Invoker) -> None:
    result = invoke(invoker, spec("calls_sys_exit"))
    after = invoke(invoker, spec("echo"))

    assert result.outcome is Outcome.CRASHED
    assert result.error_message == "Runtime exited with error: exit status 4"
    assert after.outcome is Outcome.SUCCEEDED


def test_invocations_run_concurrently(
    invoker: Invoker, tmp_path: Path, pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    monkeypatch.setenv("GATE", str(gate))  # restored after thread mode writes it
    function = spec("gated_version", GATE=str(gate))

    runs = [pool.submit(invoke, invoker, function) for _ in range(2)]
    try:
        wait_for(lambda: len(started_markers(gate)) == 2, DEADLINE_S, "both runs to start")
    finally:
        gate.touch()

    payloads = [result_of(run).payload for run in runs]
    assert len({(p["pid"], p["thread"]) for p in payloads}) == 2


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
        ("kills_itself", "signal: SIGKILL", ""),
        ("segfaults", "signal: SIGSEGV", "from a child\n"),
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
    assert crashed.logs == logs
    assert after.outcome is Outcome.SUCCEEDED
    assert after.payload != before  # a fresh worker


def test_worker_sees_only_its_configured_and_lambda_environment(
    process_invoker: ProcessInvoker, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAKED_FROM_PARENT", "secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key")
    function = spec("echo", CONFIGURED="yes", AWS_REGION="configured-region")

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
    assert environ["PYTHONPATH"] == str(project.resolve())
    assert environ["TZ"] == "UTC"


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


# -- thread mode ---------------------------------------------------------------


class SteppingClock:
    """A monotonic clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_thread_mode_reports_a_run_past_its_timeout(project: Path) -> None:
    invoker = ThreadInvoker(project, IDENTITY, time_source=SteppingClock(1.5))
    try:
        # The invoker reads the clock before and after the call: 1.5 s apart.
        late = invoke(invoker, spec("fails", timeout_s=1))
        in_time = invoke(invoker, spec("fails", timeout_s=2))
    finally:
        invoker.close()

    assert late.outcome is Outcome.TIMEOUT
    assert (late.error_message or "").startswith("Task timed out after 1.00 seconds")
    assert late.logs == "about to fail\n"
    assert in_time.outcome is Outcome.ERROR


def test_thread_mode_reload_serves_new_code(
    tmp_path: Path, pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "project")
    gate = tmp_path / "gate"
    monkeypatch.setenv("GATE", str(gate))
    gated = spec("gated_version", GATE=str(gate))
    with_reload(ThreadInvoker(project, IDENTITY), project, gate, gated, pool)


def test_thread_mode_reload_keeps_the_running_programs_own_modules() -> None:
    # The project directory may be the repository localbridge itself lives in.
    own = {name: sys.modules[name] for name in ("localbridge.model", "tests.support")}
    invoker = ThreadInvoker(ROOT, IDENTITY)
    try:
        invoker.reload()
    finally:
        invoker.close()

    assert {name: sys.modules.get(name) for name in own} == own


def with_reload(
    invoker: Invoker, project: Path, gate: Path, gated: FunctionSpec, pool: ThreadPoolExecutor
) -> None:
    """Old code keeps serving the run in flight; runs after reload() see the edit."""
    try:
        old_run = pool.submit(invoke, invoker, gated)
        wait_for(lambda: started_markers(gate), DEADLINE_S, "the old run to start")

        set_version(project, 2)
        invoker.reload()
        assert invoke(invoker, spec("echo")).payload["version"] == 2

        gate.touch()
        old = result_of(old_run).payload
        new = invoke(invoker, gated).payload
        assert (old["version"], new["version"]) == (1, 2)
    finally:
        gate.touch()  # a failed assertion must not leave a run waiting forever
        invoker.close()
