"""Both invokers against a real Chalice project: results, failures, isolation, reload.

Thread mode runs in this process; process mode has its own tests in
``test_process_invoker``. Tests wait for outcomes under deadlines; nothing
sleeps to let time pass.
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localbridge.abc import Invoker
from localbridge.invokers.thread import ThreadInvoker
from localbridge.model import FunctionSpec, InvokeOptions, Outcome
from tests.localbridge.chalice_project import spec, write_project
from tests.localbridge.invokers.support import (
    DEADLINE_S,
    IDENTITY,
    event_for,
    invoke,
    printed,
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


REPORT = re.compile(
    r"REPORT RequestId: req-1\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\n"
)


def test_prints_are_the_runs_logs_in_lambdas_frame(invoker: Invoker) -> None:
    first = invoke(invoker, spec("echo"))

    start, printed_line, end, report = first.logs.splitlines(keepends=True)
    assert start == "START RequestId: req-1 Version: $LATEST\n"
    assert printed_line == "echo ran at 2022-12-19T00:05:00Z\n"
    assert end == "END RequestId: req-1\n"
    assert REPORT.fullmatch(report), report


def test_a_failed_run_logs_the_runtimes_error_line_and_a_plain_traceback(
    invoker: Invoker,
) -> None:
    failed = invoke(invoker, spec("fails"))

    said, error, heading, *frames = printed(failed.logs).splitlines()
    assert said == "about to fail"
    assert error == "[ERROR] ValueError: no rows for 2022-12-19T00:05:00Z"
    assert heading == "Traceback (most recent call last):"
    assert frames[-2].startswith('  File "')
    assert frames[-2].endswith(", in fails")
    assert frames[-1] == '    raise ValueError("no rows for " + event.time)'
    # The runtime formats plain frames: no Python 3.11 position markers.
    assert "^" not in (failed.traceback or "") + failed.logs


def test_the_root_logger_prints_as_on_lambda(invoker: Invoker) -> None:
    result = invoke(invoker, spec("logs_info"))

    [line] = printed(result.logs).splitlines()
    level, stamp, request_id, message = line.split("\t")
    assert (level, request_id, message) == ("[INFO]", "req-1", "weighed 3 rows")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)


def test_a_decimal_is_returned_as_a_number(invoker: Invoker) -> None:
    result = invoke(invoker, spec("decimals"))

    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.payload == {"count": 3, "mean": 72.25, "list": [1.5]}


def test_a_response_over_six_mb_is_the_function_error_lambda_gives(invoker: Invoker) -> None:
    result = invoke(invoker, spec("returns_bytes"), size=6 * 1024 * 1024 + 101)
    just_under = invoke(invoker, spec("returns_bytes"), size=6 * 1024 * 1024 + 90)

    assert result.outcome is Outcome.ERROR
    assert result.error_type == "Function.ResponseSizeTooLarge"
    assert result.error_message == (
        "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
    )
    assert just_under.outcome is Outcome.SUCCEEDED


def test_the_context_has_identity_client_context_and_tenant_id(invoker: Invoker) -> None:
    function = spec("context_details")
    options = InvokeOptions(qualifier="$LATEST", client_context={"custom": {"k": "v"},
                            "client": {"app_title": "console"}, "env": {"e": "1"}})  # fmt: skip

    bare = invoker.invoke(function, event_for(function), "req-1").payload
    given = invoker.invoke(function, event_for(function), "req-2", options).payload

    arn = "arn:aws:lambda:eu-west-1:123456789012:function:demo-dev-context_details"
    assert bare == {"identity": [None, None], "client_context": None, "tenant_id": None,
                    "arn": arn, "trace": bare["trace"]}  # fmt: skip
    assert bare["trace"].startswith("Root=1-")
    assert given["client_context"] == [{"k": "v"}, {"e": "1"}, "console"]
    assert given["arn"].endswith(":function:demo-dev-context_details:$LATEST")


def test_logs_keep_the_last_64_kib(invoker: Invoker) -> None:
    result = invoke(invoker, spec("chatty"))

    assert result.payload == "said a lot"
    body = printed(result.logs)
    assert body.endswith("x" * 1000 + "\n")
    first_line, _, kept = body.partition("\n")
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
    assert printed(late.logs).startswith("about to fail\n")
    assert "Task timed out after 1.00 seconds" in late.logs
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
