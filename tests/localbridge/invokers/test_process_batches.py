"""Process mode's batches (replay): several runs in one message, each run still its own.

Real worker processes throughout; a project of one plain module per test.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from localbridge.events import scheduled_event
from localbridge.invokers.process import ProcessInvoker
from localbridge.model import FunctionSpec, InvocationResult, Outcome
from tests.localbridge.invokers.support import AT, IDENTITY, printed

HANDLER = """\
import os
import sys
import threading


def handler(event, context):
    what = event["detail"].get("do")
    print("run", event["time"])
    print("warned", event["time"], file=sys.stderr)
    if what == "crash":
        os._exit(3)
    if what == "block":
        threading.Event().wait()
    return {"pid": os.getpid(), "request_id": context.aws_request_id, "time": event["time"]}
"""


@pytest.fixture
def invoker(tmp_path: Path) -> Any:
    project = tmp_path / "project"
    project.mkdir()
    (project / "jobs.py").write_text(HANDLER)
    invoker = ProcessInvoker(project, IDENTITY)
    yield invoker
    invoker.close()


def function(timeout_s: int = 30) -> FunctionSpec:
    return FunctionSpec("job", "jobs.handler", "rate(1 minute)", "demo", "dev", timeout_s=timeout_s)


def runs(spec: FunctionSpec, *what: str) -> list[tuple[dict[str, Any], str]]:
    """One (event, request id) per entry: the n-th event is n minutes after AT."""
    made = []
    for n, do in enumerate(what):
        event = scheduled_event(spec, AT + timedelta(minutes=n), IDENTITY)
        event["detail"] = {"do": do} if do else {}
        made.append((event, f"req-{n}"))
    return made


def minute(n: int) -> str:
    return f"{AT + timedelta(minutes=n):%Y-%m-%dT%H:%M:%SZ}"


def pid(result: InvocationResult) -> int:
    value: int = result.payload["pid"]
    return value


def test_a_batch_gives_each_run_its_own_result_and_log(invoker: ProcessInvoker) -> None:
    spec = function()

    results = invoker.invoke_batch(spec, runs(spec, "", "", ""))

    assert [r.outcome for r in results] == [Outcome.SUCCEEDED] * 3
    assert [r.payload["request_id"] for r in results] == ["req-0", "req-1", "req-2"]
    for n, result in enumerate(results):
        assert result.logs.startswith(f"START RequestId: req-{n} Version: $LATEST\n")
        assert printed(result.logs) == f"run {minute(n)}\nwarned {minute(n)}\n"
        assert f"REPORT RequestId: req-{n}\tDuration: " in result.logs
        assert result.duration_ms >= 0
    assert len({pid(r) for r in results}) == 1  # one warm worker served them all
    assert pid(results[0]) != os.getpid()
    assert results[0].log_stream == results[2].log_stream is not None


def test_a_crash_fails_that_run_only_and_the_rest_run_on_a_fresh_worker(
    invoker: ProcessInvoker,
) -> None:
    spec = function()

    results = invoker.invoke_batch(spec, runs(spec, "", "crash", "", ""))

    assert [r.outcome for r in results] == [
        Outcome.SUCCEEDED, Outcome.CRASHED, Outcome.SUCCEEDED, Outcome.SUCCEEDED,
    ]  # fmt: skip
    crashed = results[1]
    assert crashed.error_message == "Runtime exited with error: exit status 3"
    assert printed(crashed.logs) == (
        f"run {minute(1)}\nwarned {minute(1)}\n"
        "RequestId: req-1 Error: Runtime exited with error: exit status 3\nRuntime.ExitError\n"
    )
    assert pid(results[0]) != pid(results[2]) == pid(results[3])
    assert printed(results[2].logs) == f"run {minute(2)}\nwarned {minute(2)}\n"


def test_a_run_past_its_timeout_is_killed_and_the_rest_run(invoker: ProcessInvoker) -> None:
    spec = function(timeout_s=1)

    results = invoker.invoke_batch(spec, runs(spec, "", "block", ""))

    assert [r.outcome for r in results] == [Outcome.SUCCEEDED, Outcome.TIMEOUT, Outcome.SUCCEEDED]
    timed_out = results[1]
    assert timed_out.error_message == "Task timed out after 1.00 seconds"
    assert timed_out.duration_ms >= 1000
    assert printed(timed_out.logs).startswith(f"run {minute(1)}\nwarned {minute(1)}\n")
    assert pid(results[0]) != pid(results[2])
    assert results[2].payload["request_id"] == "req-2"
