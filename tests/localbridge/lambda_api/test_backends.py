"""The runtime seen by an invoke front end: sync runs, and async runs with retries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from localbridge.lambda_api.backends import RuntimeBackend
from localbridge.ticks import TickSource, TickState
from tests.localbridge.runtime.harness import (
    HOURLY,
    RAISES,
    T0,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)


def test_sync_invocations_return_the_result_and_async_ones_are_retried(tmp_path: Path) -> None:
    settings = {"defaults": {"retry_delays": [30]}}
    project = write_project(tmp_path / "p", HOURLY, RAISES, localbridge=settings)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        backend = RuntimeBackend(runtime)
        functions = {spec.name: spec for spec in backend.functions()}
        assert sorted(functions) == ["hourly", "raises"]
        result = backend.invoke(functions["hourly"], None, "sync-request")
        assert result.payload == {"time": "2022-12-19T00:00:30Z"}
        assert result.logs.startswith("START RequestId: sync-request ")
        backend.enqueue(functions["raises"], None, "async-request")
        (tick,) = [t for t in runtime.ledger.find("raises") if t.source is TickSource.EVENT]
        assert tick.request_id == "async-request"
        wait_for_state(runtime.ledger, "raises", tick.scheduled_at, TickState.RETRYING)
        clock.set(T0 + timedelta(seconds=30))
        wait_for_state(runtime.ledger, "raises", tick.scheduled_at, TickState.RETRYING, attempts=2)
