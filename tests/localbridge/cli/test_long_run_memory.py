"""Memory stays flat over a long replay: 100,000 no-op runs, in either mode.

A real ``replay`` process; the test samples the resident memory of the
process that runs the handlers (the replay itself in thread mode, its
worker process in process mode) once the first runs warmed everything up,
and again near the end. Writing each run's trace id into ``os.environ``
used to keep every value: about 150 B a run, 11 MiB over the 80,000 runs
between the samples.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.localbridge.runtime.harness import EVERY_MINUTE, write_project
from tests.support import PROCESS_START_S, start_process, wait_for

RUNS = 100_000
WARM = 20_000
"""Runs before the first sample: caches, pools and the ledger's pages settled."""
GROWTH_LIMIT_KIB = 4 * 1024
SPAN = ("2022-01-01T00:00:00Z", "2022-03-11T10:40:00Z")  # 100,000 minutes


def succeeded(ledger: Path) -> int:
    if not ledger.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT count(*) FROM ticks WHERE state = 'succeeded'").fetchone()
        except sqlite3.OperationalError:  # not created yet
            return 0
    return int(row[0])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def running_handlers(replay_pid: int, mode: str) -> int:
    """The pid of the process the handlers run in."""
    if mode == "thread":
        return replay_pid
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != replay_pid:
                continue
            if b"localbridge.invokers.worker_main" in (stat.parent / "cmdline").read_bytes():
                return int(stat.parent.name)
    raise AssertionError("no worker process")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["thread", "process"])
def test_memory_stays_flat_over_a_hundred_thousand_runs(tmp_path: Path, mode: str) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger = project / "l.db"
    args = ["-m", "localbridge", "replay", "--from", SPAN[0], "--to", SPAN[1],
            "--ledger", "l.db", "--mode", mode, "--concurrency", "1"]  # fmt: skip
    replay = start_process(args, project / "replay.log", cwd=project)
    wait_for(
        lambda: not replay.alive() or succeeded(ledger) >= WARM,
        PROCESS_START_S + WARM / 500,
        what=f"{WARM} runs",
    )
    assert replay.alive(), replay.log()
    handlers = running_handlers(replay.pid, mode)
    before = rss_kib(handlers)
    wait_for(
        lambda: not replay.alive() or succeeded(ledger) >= RUNS - 5_000,
        PROCESS_START_S + RUNS / 500,
        what=f"{RUNS} runs",
    )
    assert replay.alive(), replay.log()
    after = rss_kib(handlers)
    assert replay.stop(timeout=60) in (0, 130), replay.log()
    assert after - before < GROWTH_LIMIT_KIB, f"RSS grew {after - before} KiB"
