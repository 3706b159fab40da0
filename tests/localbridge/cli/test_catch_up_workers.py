"""A catch-up of hours in process mode starts no more worker processes than ``--max-workers``.

Real ``run`` processes: the first records the functions' rules, the second
starts three virtual hours later and catches up on every missed tick while
the test counts its worker processes.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.localbridge.runtime.harness import write_project
from tests.support import PROCESS_START_S, Process, start_process, wait_for

FUNCTIONS = [
    f'\n@app.schedule(Cron("*", "*", "*", "*", "?", "*"))\ndef every_minute_{n}(event):\n'
    "    return event.time\n"
    for n in range(3)
]
MAX_WORKERS = 3
MISSED_PER_FUNCTION = 180  # three hours of rate(1 minute)


def succeeded(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT count(*) FROM ticks WHERE state = 'succeeded'").fetchone()
        except sqlite3.OperationalError:  # not created yet
            return 0
    return int(row[0])


def worker_processes(parent: int) -> int:
    """Live worker processes whose parent is ``parent``."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != parent or fields[0] == "Z":
                continue
            command = (stat.parent / "cmdline").read_bytes()
            count += b"localbridge.invokers.worker_main" in command
    return count


def start_run(project: Path, clock_start: str, name: str) -> Process:
    args = ["-m", "localbridge", "run", "--clock-start", clock_start, "--speed", "60",
            "--ledger", "l.db", "--mode", "process", "--port", "0",
            "--max-workers", str(MAX_WORKERS)]  # fmt: skip
    return start_process(args, project / name, cwd=project)


@pytest.mark.slow
def test_a_catch_up_of_hours_never_starts_more_workers_than_the_cap(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", *FUNCTIONS)
    ledger = project / "l.db"
    first = start_run(project, "2022-12-19T00:00:50Z", "run-1.log")
    wait_for(
        lambda: not first.alive() or succeeded(ledger) >= len(FUNCTIONS),
        PROCESS_START_S,
        what="the first run's ticks",
    )
    assert first.stop() == 0, first.log()
    before = succeeded(ledger)

    second = start_run(project, "2022-12-19T03:00:50Z", "run-2.log")
    most = 0

    def caught_up() -> bool:
        nonlocal most
        most = max(most, worker_processes(second.pid))
        return not second.alive() or succeeded(ledger) >= before + 3 * MISSED_PER_FUNCTION - 3

    wait_for(caught_up, 4 * PROCESS_START_S, what="the catch-up")
    assert second.alive(), second.log()
    assert second.stop() == 0, second.log()
    assert 1 <= most <= MAX_WORKERS, f"{most} worker processes at once"
