"""``localbridge run`` as users start it: what fires first, and what an ``invoke`` before changes.

Real ``python -m localbridge`` processes on a throwaway project and a real
ledger file; the virtual clock runs fast, and the tests wait on the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from localbridge.ledger.store import Ledger
from localbridge.ticks import TickState
from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.runtime.harness import GATED, HOURLY, write_project
from tests.support import PROCESS_START_S, Process, start_process, virtual_deadline, wait_for

DAILY = '\n@app.schedule(Cron(5, 0, "*", "*", "?", "*"))\ndef daily(event):\n    return 1\n'


def succeeded(ledger_path: Path, function: str) -> set[datetime]:
    if not ledger_path.exists():
        return set()
    ledger = Ledger.open(ledger_path)
    try:
        return {t.scheduled_at for t in ledger.find(function, TickState.SUCCEEDED)}
    finally:
        ledger.close()


def run_until(project: Path, clock_start: str, speed: float, function: str, due: datetime) -> str:
    """``run`` from ``clock_start`` until ``function``'s tick at ``due`` succeeded; its log."""
    args = ["-m", "localbridge", "run", "--clock-start", clock_start, "--speed", str(speed),
            "--ledger", "l.db", "--mode", "thread", "--port", "0"]  # fmt: skip
    process = start_process(args, project / "run.log", cwd=project)
    span = due - datetime.fromisoformat(clock_start)
    wait_for(
        lambda: not process.alive() or due in succeeded(project / "l.db", function),
        virtual_deadline(span, speed),
        what=f"{function} {due} to succeed",
    )
    assert process.stop() == 0, process.log()
    assert due in succeeded(project / "l.db", function), process.log()
    return process.log()


@pytest.mark.parametrize("clock_start", ["2022-12-10T00:04:59Z", "2022-12-10T00:05:00Z"])
def test_run_fires_the_first_instant_at_or_after_its_clock_start(
    tmp_path: Path, clock_start: str
) -> None:
    project = write_project(tmp_path / "p", DAILY)
    due = datetime(2022, 12, 10, 0, 5, tzinfo=UTC)
    log = run_until(project, clock_start, 14400, "daily", due)
    assert "next 2022-12-10T00:05:00Z" in log
    assert f"clock from {clock_start.removesuffix('Z')}" in log


def test_a_bare_invoke_before_run_does_not_silence_the_schedule(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    done = localbridge("invoke", "hourly", "--ledger", "l.db", "--mode", "thread", cwd=project)
    assert done.returncode == 0, done.stderr
    due = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)
    run_until(project, "2022-12-19T00:59:00Z", 600, "hourly", due)


def start_run(project: Path, clock_start: str, speed: float) -> Process:
    """``run`` on ``project``'s ledger, once its banner is out."""
    args = ["-m", "localbridge", "run", "--clock-start", clock_start, "--speed", str(speed),
            "--ledger", "l.db", "--mode", "thread", "--port", "0"]  # fmt: skip
    process = start_process(args, project / f"run-{len(list(project.glob('run*.log')))}.log",
                            cwd=project)  # fmt: skip
    wait_for(
        lambda: not process.alive() or "scheduled function" in process.log(),
        PROCESS_START_S,
        what="run to start",
    )
    assert process.alive(), process.log()
    return process


def test_a_second_run_on_a_ledger_a_live_run_drives_is_refused(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    first = start_run(project, "2022-12-19T00:00:00Z", 1)
    second = start_process(
        ["-m", "localbridge", "run", "--ledger", "l.db", "--mode", "thread", "--port", "0"],
        tmp_path / "second.log",
        cwd=project,
    )
    assert second.popen.wait(timeout=PROCESS_START_S) == 2, second.log()
    assert f"pid {first.pid} on " in second.log()
    assert "Traceback" not in second.log()
    assert first.stop() == 0, first.log()


def test_invoke_beside_a_run_leaves_its_live_runs_alone(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    project = write_project(tmp_path / "p", GATED, HOURLY, environment={"GATE": str(gate)})
    run = start_run(project, "2022-12-19T00:00:59Z", 1)
    wait_for(lambda: list(tmp_path.glob("started-*")), PROCESS_START_S, "the 00:01 run to start")
    done = localbridge("invoke", "hourly", "--ledger", "l.db", "--mode", "thread", cwd=project)
    assert done.returncode == 0, done.stderr
    ledger = Ledger.open(project / "l.db")
    try:
        (tick,) = ledger.find("gated", limit=1)
        assert tick.state is TickState.RUNNING
        assert [a.outcome for a in ledger.attempts(tick.id)] == [None]
        gate.touch()
        wait_for(
            lambda: ledger.get(tick.id).state is TickState.SUCCEEDED,  # type: ignore[union-attr]
            PROCESS_START_S,
            what="the gated run to finish",
        )
        assert len(ledger.attempts(tick.id)) == 1
    finally:
        ledger.close()
    assert run.stop() == 0, run.log()
