"""Several processes on one ledger: each recovers only what a gone process left.

Real processes: each "holder" opens the ledger file, registers, opens an
attempt and then stays alive (until its stop file appears) or is killed -9.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from localbridge.ledger.owners import LedgerBusyError, Owner, is_alive, process_start
from localbridge.ledger.schema import MIGRATIONS
from localbridge.ledger.store import Ledger
from localbridge.ticks import NewTick, TickSource, TickState
from tests.support import PROCESS_START_S, Process, start_process, wait_for

T0 = datetime(2022, 12, 19, 0, 5, tzinfo=UTC)

HOLDER = """
import sys, time
from pathlib import Path
from localbridge.ledger.schema import MIGRATIONS
from localbridge.ledger.store import Ledger
ledger = Ledger.open(Path(sys.argv[1]))
ledger.claim(drives=sys.argv[2] == "drives")
if sys.argv[3] != "-":
    tick = ledger.get(int(sys.argv[3]))
    ledger.begin_attempts([tick], tick.scheduled_at, [0.0])
Path(sys.argv[1] + "." + sys.argv[4] + ".ready").touch()
while not Path(sys.argv[1] + ".stop").exists():
    time.sleep(0.05)  # polling the stop file, not waiting for time
"""


def holder(tmp_path: Path, name: str, drives: bool, tick_id: int | None = None) -> Process:
    """A live process that holds the ledger (and runs ``tick_id``) until told to stop."""
    ledger = tmp_path / "ledger.db"
    args = ["-c", HOLDER, str(ledger), "drives" if drives else "-",
            "-" if tick_id is None else str(tick_id), name]  # fmt: skip
    process = start_process(args, tmp_path / f"{name}.log")
    ready = Path(f"{ledger}.{name}.ready")
    wait_for(lambda: ready.exists() or not process.alive(), PROCESS_START_S, f"{name} to hold")
    assert process.alive(), process.log()
    return process


def two_ticks(tmp_path: Path) -> tuple[Ledger, int, int]:
    ledger = Ledger.open(tmp_path / "ledger.db")
    ticks = ledger.add_ticks(
        [NewTick(f, T0, TickSource.SCHEDULE, T0) for f in ("live", "crashed")], T0
    )
    return ledger, ticks[0].id, ticks[1].id


def test_recovery_takes_over_only_attempts_whose_process_is_gone(tmp_path: Path) -> None:
    ledger, live_id, crashed_id = two_ticks(tmp_path)
    live = holder(tmp_path, "live", drives=True, tick_id=live_id)
    crashed = holder(tmp_path, "crashed", drives=False, tick_id=crashed_id)
    crashed.kill9()

    assert ledger.recover_interrupted(T0) == 1
    assert ledger.get(crashed_id).state is TickState.PENDING  # type: ignore[union-attr]
    assert ledger.get(live_id).state is TickState.RUNNING  # type: ignore[union-attr]
    assert ledger.attempts(live_id)[0].outcome is None

    live.kill9()
    assert ledger.recover_interrupted(T0) == 1
    assert ledger.get(live_id).state is TickState.PENDING  # type: ignore[union-attr]


def test_a_second_driver_is_refused_naming_the_process_that_drives(tmp_path: Path) -> None:
    ledger, _, _ = two_ticks(tmp_path)
    first = holder(tmp_path, "first", drives=True)
    with pytest.raises(LedgerBusyError, match=f"pid {first.pid} on "):
        ledger.claim(drives=True)
    assert ledger.claim(drives=False).drives is False  # invoke, replay: welcome beside it
    assert ledger.live_driver() is not None
    first.kill9()
    other = Ledger.open(tmp_path / "ledger.db")
    assert other.claim(drives=True).drives  # the driver is gone: no longer refused
    other.close()


def test_a_clean_stop_releases_the_ledger(tmp_path: Path) -> None:
    ledger, _, _ = two_ticks(tmp_path)
    first = holder(tmp_path, "first", drives=True)
    (tmp_path / "ledger.db.stop").touch()
    assert first.popen.wait(timeout=PROCESS_START_S) == 0
    assert ledger.live_driver() is None


def test_a_recycled_pid_is_not_the_owner() -> None:
    me = os.getpid()
    now = datetime.now(UTC)
    host = socket.gethostname()
    assert is_alive(Owner("t", me, host, process_start(me), True, now), now)
    assert not is_alive(Owner("t", me, host, "1", True, now), now)


def test_a_ledger_from_before_owners_recovers_its_open_attempts(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with sqlite3.connect(path) as db:
        for statement in MIGRATIONS[0].split(";"):
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute(
            "INSERT INTO ticks (id, function, scheduled_at, state, source, attempts, enqueued_at, "
            "created_at, updated_at) VALUES (1, 'daily', ?, 'running', 'schedule', 1, ?, ?, ?)",
            ["2022-12-19T00:05:00.000000Z"] * 4,
        )
        db.execute(
            "INSERT INTO attempts (tick_id, number, started_at, lateness_ms) VALUES (1, 1, ?, 0)",
            ["2022-12-19T00:05:00.000000Z"],
        )
    db.close()
    ledger = Ledger.open(path)
    assert ledger.recover_interrupted(T0) == 1
    assert ledger.get(1).state is TickState.PENDING  # type: ignore[union-attr]
