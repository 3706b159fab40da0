"""Both invokers against a real Chalice project: results, failures, isolation, reload.

Thread mode runs in this process; process mode has its own tests in
``test_process_invoker``. Tests wait for outcomes under deadlines; nothing
sleeps to let time pass.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localbridge.invokers.thread import ThreadInvoker
from localbridge.model import FunctionSpec, Invoker, Outcome
from tests.localbridge.chalice_project import spec, write_project
from tests.localbridge.invokers.support import (
    DEADLINE_S,
    IDENTITY,
    event_for,
    invoke,
    result_of,
    started_markers,
    with_reload,
)
from tests.support import ROOT, wait_for

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
