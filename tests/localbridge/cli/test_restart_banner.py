"""A restart says what it found: ``localbridge run``'s banner over a ledger an earlier run filled.

A second ``run`` over a period already done fires nothing there; its banner
counts the ticks already done per function, shows the instant that really
fires next, and says why when none does (past ``--clock-end``, paused, an
expression with no instant left). Real ``python -m localbridge`` processes on
a throwaway project and a real ledger; instants always end in ``Z``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from localbridge.ledger.store import Ledger
from localbridge.ticks import NewTick, TickSource, TickState
from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.runtime.harness import write_project
from tests.support import start_process, virtual_deadline, wait_for

CLOCK_START = "2022-12-18T23:59:00Z"
CLOCK_END = "2022-12-19T04:30:00Z"
SPEED = 3600.0

FOUR_HOURLY = """
@app.schedule(Cron(0, "*/4", "*", "*", "?", "*"))
def four_hourly(event):
    return 1
"""
DAILY = '\n@app.schedule(Cron(5, 0, "*", "*", "?", "*"))\ndef daily(event):\n    return 1\n'
# A rule whose last instant was in 2020: it never fires again.
ENDED = '\n@app.schedule(Cron(0, 0, 1, 1, "?", 2020))\ndef ended(event):\n    return 1\n'
# Retention off: the first run's ticks stay, whatever its fast clock reaches.
KEEP = {"retention_days": None}
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([^\dZ.]|$)")


def succeeded(ledger_path: Path) -> set[tuple[str, datetime]]:
    if not ledger_path.exists():
        return set()
    ledger = Ledger.open(ledger_path)
    try:
        return {(t.function, t.scheduled_at) for t in ledger.find(state=TickState.SUCCEEDED)}
    finally:
        ledger.close()


def run(project: Path, name: str, clock_start: str = CLOCK_START, wait_for_ticks: int = 0) -> str:
    """``run`` until its banner is out (and ``wait_for_ticks`` runs succeeded); its log."""
    args = ["-m", "localbridge", "run", "--clock-start", clock_start, "--speed", str(SPEED),
            "--clock-end", CLOCK_END, "--ledger", "l.db", "--mode", "thread", "--port", "0",
            "--console-port", "0"]  # fmt: skip
    process = start_process(args, project / f"{name}.log", cwd=project)
    span = datetime.fromisoformat(CLOCK_END) - datetime.fromisoformat(clock_start)

    def started() -> bool:
        # The Invoke API starts once the banner is out.
        ran = len(succeeded(project / "l.db")) >= wait_for_ticks
        return not process.alive() or ("Lambda Invoke API on" in process.log() and ran)

    wait_for(started, virtual_deadline(span, SPEED), f"{name}: the banner, {wait_for_ticks} runs")
    assert process.stop() == 0, process.log()
    return process.log()


def banner_line(log: str, function: str) -> str:
    return next(line for line in log.splitlines() if line.strip().startswith(function + " "))


def test_a_second_run_over_a_period_already_done_says_so(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", FOUR_HOURLY, DAILY, ENDED, localbridge=KEEP)
    first = run(project, "first", wait_for_ticks=3)  # 00:00, 04:00 and the daily 00:05
    assert "next 2022-12-19T00:00:00Z" in banner_line(first, "four_hourly")
    assert "already done" not in first
    assert "until 2022-12-19T04:30:00Z" in first

    second = run(project, "second")
    assert banner_line(second, "four_hourly").endswith(
        "2 ticks already done; next never (past the clock end 2022-12-19T04:30:00Z)"
    )
    assert banner_line(second, "daily").endswith(
        "1 tick already done; next never (past the clock end 2022-12-19T04:30:00Z)"
    )
    assert banner_line(second, "ended").endswith(
        "next never (its expression has no instant after 2022-12-18T23:59:00Z)"
    )
    assert (
        "localbridge: 3 ticks (2022-12-19T00:00:00Z to 2022-12-19T04:00:00Z) already done "
        "by an earlier run: not fired again"
    ) in second
    assert not INSTANT.search(second), "an instant without its Z"
    assert len(succeeded(project / "l.db")) == 3  # nothing ran twice


def test_the_banner_shows_the_instant_that_really_fires_next(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", FOUR_HOURLY, DAILY, localbridge=KEEP)
    midnight = datetime(2022, 12, 19, tzinfo=UTC)
    ledger = Ledger.open(project / "l.db")  # what an earlier run did: 00:00 only, 00:05 dead
    try:
        for name, at, state in [
            ("four_hourly", midnight, TickState.SUCCEEDED),
            ("daily", midnight.replace(minute=5), TickState.DEAD),
        ]:
            (tick,) = ledger.add_ticks([NewTick(name, at, TickSource.SCHEDULE, at)], at)
            ledger.set_state(tick.id, state, at)
    finally:
        ledger.close()
    log = run(project, "restart", wait_for_ticks=2)
    assert banner_line(log, "four_hourly").endswith(
        "1 tick already done; next 2022-12-19T04:00:00Z"
    )
    assert banner_line(log, "daily").endswith(
        "1 tick already done (1 dead letter); next never (past the clock end 2022-12-19T04:30:00Z)"
    )
    assert (
        "localbridge: 2 ticks (2022-12-19T00:00:00Z to 2022-12-19T00:05:00Z) already done by an "
        "earlier run: not fired again; 1 dead letter, which dlq redrive runs again"
    ) in log


def test_a_paused_function_says_it_is_paused(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", FOUR_HOURLY, DAILY, localbridge=KEEP)
    paused = localbridge("pause", "daily", "--ledger", "l.db", cwd=project)
    assert paused.returncode == 0, paused.stderr
    log = run(project, "paused", wait_for_ticks=1)
    assert banner_line(log, "daily").endswith("next never (paused: resume it to fire it again)")
    assert banner_line(log, "four_hourly").endswith("next 2022-12-19T00:00:00Z")
