"""SIGTERM stops firing but lets the run in flight finish, within the grace period."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest

from localbridge.ledger.store import Ledger
from localbridge.ticks import TickState
from tests.localbridge.runtime.harness import GATED, write_project
from tests.support import PROCESS_START_S, start_process, virtual_deadline, wait_for


@pytest.mark.slow
def test_sigterm_lets_the_running_invocation_finish(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    project = write_project(tmp_path / "p", GATED, environment={"GATE": str(gate)})
    ledger_path = tmp_path / "l.db"
    command = ["-m", "localbridge", "run", "--project", str(project), "--ledger", str(ledger_path),
               "--clock-start", "2022-12-19T00:00:50Z", "--speed", "5"]  # fmt: skip
    process = start_process(command, tmp_path / "run.log")
    # The process starts, then the clock runs 10 s at 5x: 2 s.
    first_run = virtual_deadline(timedelta(seconds=10), 5)
    wait_for(lambda: list(tmp_path.glob("started-*")), first_run, "the 00:01 run to start")
    process.popen.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping" in process.log(), PROCESS_START_S, "the stop to begin")
    assert process.alive()  # waiting for the run in flight
    gate.touch()
    assert process.popen.wait(timeout=PROCESS_START_S) == 0, process.log()
    ledger = Ledger.open(ledger_path)
    ticks = ledger.find("gated")
    ledger.close()
    # The run in flight finished and was recorded; nothing fired after the stop.
    assert [(t.scheduled_at.minute, t.state) for t in ticks] == [(1, TickState.SUCCEEDED)]
