"""A ledger that stops taking writes stops ``run``, ``serve`` and ``replay`` in one line,
losing nothing.

Real ``python -m localbridge`` processes with their ledger on a small tmpfs
of their own (filled up, or remounted read-only), or locked by another
connection for as long as the process lives; after the cause is fixed, a
restart fires every tick once. Mounting needs root: elsewhere the tmpfs cases
are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from localbridge.ledger.locking import LOCK_TIMEOUT_S
from localbridge.ledger.store import Ledger
from localbridge.ticks import TickState
from tests.localbridge.runtime.harness import EVERY_MINUTE, write_project
from tests.support import (
    PROCESS_START_S,
    Process,
    free_port,
    http_ok,
    python_env,
    start_process,
    virtual_deadline,
    wait_for,
)

CLOCK_START = "2022-12-19T00:00:30Z"
SPEED = 1200.0  # twenty ticks a second
GRACE_S = 5.0
STOP_S = 15.0
"""Real seconds a stop's own work may take on a busy machine, beyond the runs'
grace: the servers, the invoker, the ledger's last tries, the interpreter's exit."""
FAULT_EXIT_S = GRACE_S + STOP_S
"""Real seconds a process may take to exit once its ledger failed."""
LOCKED_EXIT_S = LOCK_TIMEOUT_S + FAULT_EXIT_S
"""Real seconds from taking a process's ledger lock to its exit: the write that
meets the lock fails after the ledger's timeout, then the process stops (each
write still tried on the way out waits a short slice, not a timeout)."""


@contextlib.contextmanager
def tmpfs(mount_point: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``mount_point``, unmounted after; the test is skipped,
    saying why, where mounting is not permitted."""
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs of its own: room for the ledger to grow under a slow machine
    before the disk is filled, so freeing the filler always leaves the restart
    enough space."""
    with tmpfs(tmp_path / "disk", "16m") as mount_point:
        yield mount_point


def start_run(project: Path, ledger: Path, mode: str, log_name: str) -> Process:
    args = ["-m", "localbridge", "run", "--clock-start", CLOCK_START, "--speed", str(SPEED),
            "--ledger", str(ledger), "--mode", mode, "--port", "0",
            "--grace", str(GRACE_S)]  # fmt: skip
    return start_process(args, project / log_name, cwd=project)


def ticks(ledger_path: Path) -> list[tuple[datetime, TickState]]:
    ledger = Ledger.open(ledger_path)
    try:
        found = []
        for state in TickState:
            found += [(t.scheduled_at, state) for t in ledger.find("every_minute", state)]
        return found
    finally:
        ledger.close()


def succeeded_count(ledger_path: Path) -> int:
    if not ledger_path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True)) as db:
        try:
            row = db.execute("SELECT count(*) FROM ticks WHERE state = 'succeeded'").fetchone()
        except sqlite3.OperationalError:  # not created yet
            return 0
    return int(row[0])


def wait_for_runs(process: Process, ledger: Path, count: int) -> None:
    wait_for(
        lambda: not process.alive() or succeeded_count(ledger) >= count,
        PROCESS_START_S,
        what=f"{count} runs to succeed",
    )
    assert process.alive(), process.log()


def assert_stopped_in_one_line(process: Process, *words: str, within: float = FAULT_EXIT_S) -> str:
    wait_for(lambda: not process.alive(), within, what="the process to exit after the fault")
    log = process.log()
    assert process.popen.returncode == 2, log
    assert "Traceback" not in log, log
    errors = [line for line in log.splitlines() if "start again" in line]
    assert len(errors) == 1, log
    assert all(word in errors[0] for word in words), errors[0]
    return errors[0]


def fill(disk: Path) -> None:
    """Write zeros until the filesystem is full (it may be already)."""
    with contextlib.suppress(OSError), (disk / "filler").open("wb", buffering=0) as filler:
        while True:
            filler.write(b"\0" * 65536)


def assert_every_tick_once(ledger: Path, through: datetime) -> None:
    """Every minute from the clock's start to ``through`` succeeded, each exactly once."""
    found = ticks(ledger)
    counts = Counter(at for at, _ in found)
    assert max(counts.values()) == 1, [at for at, n in counts.items() if n > 1]
    done = {at for at, state in found if state is TickState.SUCCEEDED}
    first = datetime.fromisoformat(CLOCK_START).replace(second=0) + timedelta(minutes=1)
    expected, at = set(), first
    while at <= through:
        expected.add(at)
        at += timedelta(minutes=1)
    assert expected <= done, sorted(expected - done)[:5]


def restart_until(project: Path, ledger: Path, mode: str, beyond: int) -> datetime:
    """``run`` again until ``beyond`` more ticks succeeded; the last one it saw."""
    before = succeeded_count(ledger)
    process = start_run(project, ledger, mode, "run-again.log")
    deadline = virtual_deadline(timedelta(minutes=before + beyond), SPEED)
    wait_for(
        lambda: not process.alive() or succeeded_count(ledger) >= before + beyond,
        deadline,
        what="the restarted run to go on",
    )
    assert process.stop() == 0, process.log()
    return max(at for at, state in ticks(ledger) if state is TickState.SUCCEEDED)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_full_disk_stops_run_in_one_line_and_a_restart_fires_every_tick_once(
    tmp_path: Path, small_disk: Path, mode: str
) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger = small_disk / "l.db"
    process = start_run(project, ledger, mode, "run.log")
    wait_for_runs(process, ledger, 20)
    fill(small_disk)
    line = assert_stopped_in_one_line(process, "full")
    assert "localbridge: " in line
    (small_disk / "filler").unlink()
    last = restart_until(project, ledger, mode, 20)
    assert_every_tick_once(ledger, last)


@contextlib.contextmanager
def locked(ledger: Path) -> Iterator[None]:
    """Hold ``ledger``'s write lock from another connection, as a stuck writer would."""
    holder = sqlite3.connect(ledger, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def assert_stops_while_locked(process: Process, ledger: Path) -> str:
    """Lock ``ledger`` until ``process`` exited, which it must within ``LOCKED_EXIT_S``
    with status 2 and one line saying the ledger stayed locked."""
    with locked(ledger):
        return assert_stopped_in_one_line(process, "locked", str(ledger), within=LOCKED_EXIT_S)


@pytest.mark.slow
def test_a_ledger_locked_past_its_timeout_stops_run_in_seconds_and_a_restart_fires_every_tick(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger = tmp_path / "l.db"
    process = start_run(project, ledger, "thread", "run.log")
    wait_for_runs(process, ledger, 10)
    assert_stops_while_locked(process, ledger)
    last = restart_until(project, ledger, "thread", 20)
    assert_every_tick_once(ledger, last)


@pytest.mark.slow
def test_a_ledger_locked_past_its_timeout_stops_serve_in_seconds(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger, port = tmp_path / "l.db", free_port()
    args = ["-m", "localbridge", "serve", "--ledger", str(ledger), "--port", str(port),
            "--mode", "thread", "--grace", str(GRACE_S)]  # fmt: skip
    process = start_process(args, project / "serve.log", cwd=project)
    api = f"http://127.0.0.1:{port}/2015-03-31/functions"
    wait_for(
        lambda: not process.alive() or http_ok(f"{api}/"), PROCESS_START_S, what="serve to answer"
    )
    assert process.alive(), process.log()

    def invoke() -> None:
        # Answered with an error or cut off when serve stops: either way not the test's.
        with contextlib.suppress(requests.RequestException):
            requests.post(
                f"{api}/every_minute/invocations",
                data=b"{}",
                headers={"X-Amz-Invocation-Type": "Event"},
                timeout=LOCKED_EXIT_S,
            )

    with locked(ledger):
        threading.Thread(target=invoke, daemon=True).start()
        assert_stopped_in_one_line(process, "locked", str(ledger), within=LOCKED_EXIT_S)


def replay_args(ledger: Path) -> list[str]:
    return ["-m", "localbridge", "replay", "--from", "2022-01-01T00:00:00Z",
            "--to", "2022-03-01T00:00:00Z", "--ledger", str(ledger),
            "--mode", "thread", "--grace", str(GRACE_S)]  # fmt: skip


def start_replay(project: Path, ledger: Path, runs: int) -> Process:
    """A replay of two months of every-minute ticks, once ``runs`` of them succeeded."""
    process = start_process(replay_args(ledger), project / "replay.log", cwd=project)
    wait_for(
        lambda: not process.alive() or succeeded_count(ledger) >= runs,
        PROCESS_START_S,
        what="replay to record runs",
    )
    assert process.alive(), process.log()
    return process


@pytest.mark.slow
def test_a_ledger_locked_past_its_timeout_stops_replay_in_seconds(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger = tmp_path / "l.db"
    process = start_replay(project, ledger, 100)
    assert_stops_while_locked(process, ledger)


@pytest.mark.slow
def test_a_full_disk_stops_replay_in_one_line(tmp_path: Path, small_disk: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger = small_disk / "l.db"
    process = start_replay(project, ledger, 100)
    fill(small_disk)
    assert_stopped_in_one_line(process, "full")


def localbridge(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "localbridge", *args]
    return subprocess.run(command, cwd=project, env=python_env(), capture_output=True,
                          text=True, timeout=PROCESS_START_S)  # fmt: skip


@pytest.mark.slow
def test_a_read_only_ledger_is_read_by_runs_list_and_stats_and_refused_by_run_in_one_line(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    with tmpfs(tmp_path / "ro", "4m") as disk:
        ledger = disk / "l.db"
        ten_minutes = ["--from", "2022-01-01T00:00:00Z", "--to", "2022-01-01T00:10:00Z"]
        replayed = localbridge(project, "replay", *ten_minutes, "--ledger", str(ledger))
        assert replayed.returncode == 0, replayed.stderr
        remounted = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
        assert remounted.returncode == 0, remounted.stderr

        ran = localbridge(project, "run", "--port", "0", "--ledger", str(ledger))
        assert ran.returncode == 2, ran.stdout + ran.stderr
        assert "Traceback" not in ran.stderr, ran.stderr
        [line] = [line for line in ran.stderr.splitlines() if line.startswith("localbridge: ")]
        assert f"the ledger {ledger} cannot be written" in line, line
        assert "mounted read-only" in line, line

        runs = localbridge(project, "runs", "--ledger", str(ledger))
        assert runs.returncode == 0, runs.stderr
        assert runs.stdout.count("every_minute  2022-01-01T") == 10, runs.stdout
        listed = localbridge(project, "list", "--ledger", str(ledger))
        assert listed.returncode == 0, listed.stderr
        assert "succeeded" in listed.stdout, listed.stdout
        stats = localbridge(project, "stats", "--ledger", str(ledger))
        assert stats.returncode == 0, stats.stderr
        assert "10 succeeded" in stats.stdout, stats.stdout
