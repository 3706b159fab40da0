"""A handler that never returns does not keep ``run`` alive past its stop's grace period."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.localbridge.runtime.harness import write_project
from tests.support import PROCESS_START_S, start_process, wait_for

BLOCKS_FOREVER = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def blocks_forever(event):
    Path(os.environ["STARTED"]).touch()
    threading.Event().wait()
"""
GRACE_S = 1.0
EXIT_S = 20.0
"""Real seconds from the stop to the exit: the grace, and the closing of the ledger."""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["thread", "process"])
def test_run_exits_after_its_grace_with_a_handler_blocked_for_good(
    tmp_path: Path, mode: str
) -> None:
    started = tmp_path / "started"
    project = write_project(tmp_path / "p", BLOCKS_FOREVER)
    args = ["-m", "localbridge", "run", "--clock-start", "2022-12-19T00:00:50Z",
            "--speed", "60", "--ledger", "l.db", "--mode", mode, "--port", "0",
            "--grace", str(GRACE_S), "--env", f"STARTED={started}"]  # fmt: skip
    process = start_process(args, project / "run.log", cwd=project)
    wait_for(lambda: not process.alive() or started.exists(), PROCESS_START_S, what="a run")
    assert process.alive(), process.log()
    assert process.stop(timeout=EXIT_S) != -9, process.log()
    assert "still running after" in process.log()
