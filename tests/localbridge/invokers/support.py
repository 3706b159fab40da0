"""What the invoker tests share: the identity, the instant, events and waits."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localbridge.abc import Invoker
from localbridge.events import AwsIdentity, scheduled_event
from localbridge.invokers.process import ProcessInvoker
from localbridge.invokers.thread import ThreadInvoker
from localbridge.model import FunctionSpec, InvocationResult
from tests.localbridge.chalice_project import set_version, spec
from tests.support import PROCESS_START_S, wait_for

IDENTITY = AwsIdentity(account="123456789012", region="eu-west-1")
AT = datetime(2022, 12, 19, 0, 5, tzinfo=UTC)
DEADLINE_S = PROCESS_START_S
"""A worker process starts (and imports the handler), then the run: see PROCESS_START_S."""
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


def printed(logs: str) -> str:
    """What the function printed: its run's log inside Lambda's START ... END frame."""
    lines = logs.splitlines(keepends=True)
    assert lines[0].startswith("START RequestId: "), logs
    end = next(i for i, line in enumerate(lines) if line.startswith("END RequestId: "))
    assert lines[end + 1].startswith("REPORT RequestId: "), logs
    return "".join(lines[1:end])


def result_of(future: Future[InvocationResult]) -> InvocationResult:
    return future.result(timeout=DEADLINE_S)


def started_markers(gate: Path) -> list[Path]:
    return sorted(gate.parent.glob(f"{gate.name}.*.started"))


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
