"""A restart over a pruned period fires nothing there, and its banner counts the pruned ticks.

Real ``python -m localbridge`` processes: a first ``run`` fills the ledger,
``prune`` removes its runs, a second ``run`` with the same virtual clock goes
through the whole period.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from localbridge.cli.main import main
from localbridge.ledger.store import Ledger
from tests.localbridge.cli.test_restart_banner import (
    CLOCK_END,
    CLOCK_START,
    DAILY,
    FOUR_HOURLY,
    KEEP,
    SPEED,
    banner_line,
    run,
)
from tests.localbridge.runtime.harness import write_project
from tests.support import start_process, virtual_deadline, wait_for


def recorded(ledger_path: Path) -> list[tuple[str, datetime]]:
    ledger = Ledger.open(ledger_path)
    try:
        return sorted((t.function, t.scheduled_at) for t in ledger.find())
    finally:
        ledger.close()


def run_through_the_clock_end(project: Path) -> str:
    """``run`` from ``CLOCK_START`` until its clock passed ``CLOCK_END``; its log."""
    args = ["-m", "localbridge", "run", "--clock-start", CLOCK_START, "--speed", str(SPEED),
            "--clock-end", CLOCK_END, "--ledger", "l.db", "--mode", "thread", "--port", "0",
            "--console-port", "0"]  # fmt: skip
    process = start_process(args, project / "again.log", cwd=project)
    span = datetime.fromisoformat(CLOCK_END) - datetime.fromisoformat(CLOCK_START)
    wait_for(
        lambda: not process.alive() or "the clock passed --clock-end" in process.log(),
        virtual_deadline(span, SPEED),
        "the second run's clock to pass its end",
    )
    assert process.stop() == 0, process.log()
    return process.log()


def test_a_restart_over_a_pruned_period_fires_nothing_there(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", FOUR_HOURLY, DAILY, localbridge=KEEP)
    run(project, "first", wait_for_ticks=3)  # 00:00, 04:00 and the daily 00:05
    ledger = project / "l.db"
    assert len(recorded(ledger)) == 3
    assert main(["prune", "--before", "2022-12-19T05:00:00Z", "--ledger", str(ledger)]) == 0
    assert recorded(ledger) == []

    log = run_through_the_clock_end(project)
    assert recorded(ledger) == []  # nothing fired again
    assert banner_line(log, "four_hourly").endswith(
        "2 ticks already done (2 pruned); next never (past the clock end 2022-12-19T04:30:00Z)"
    )
    assert "1 tick already done (1 pruned)" in banner_line(log, "daily")
    assert "3 ticks (2022-12-19T00:00:00Z to 2022-12-19T04:00:00Z) already done by an " \
        "earlier run, 3 pruned since: not fired again" in log  # fmt: skip
