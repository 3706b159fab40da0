"""A replay's writes: new ticks recorded as they start, checkpoints off the writers' path."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.ledger.store import Ledger
from localbridge.model import InvocationResult, Outcome
from localbridge.ticks import Decision, NewTick, RunReport, TickSource, TickState
from tests.support import wait_for

T0 = datetime(2022, 12, 19, 0, 5, tzinfo=UTC)
STARTED = T0 + timedelta(hours=1)


def planned(minute: int) -> NewTick:
    return NewTick("every_minute", T0 + timedelta(minutes=minute), TickSource.REPLAY, T0)


def rows(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    try:
        ticks = db.execute("SELECT * FROM ticks ORDER BY id").fetchall()
        attempts = db.execute("SELECT * FROM attempts ORDER BY tick_id, number").fetchall()
        return ticks, attempts
    finally:
        db.close()


def test_a_started_new_tick_leaves_the_rows_of_recording_it_then_beginning_it(
    tmp_path: Path,
) -> None:
    ticks = [planned(1), planned(2)]
    before = Ledger.open(tmp_path / "before.db")
    recorded = before.add_ticks(ticks, T0)
    assert before.begin_attempts(recorded, STARTED, [1.5, 2.5]) == [1, 1]
    before.close()
    at_once = Ledger.open(tmp_path / "at_once.db")
    opened = at_once.finish_and_start([], ticks, STARTED, [1.5, 2.5])
    at_once.close()
    assert opened == [(1, 1), (2, 1)]
    assert rows(tmp_path / "at_once.db") == rows(tmp_path / "before.db")


def test_a_tick_recorded_meanwhile_is_not_started_again(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "l.db")
    (theirs,) = ledger.add_ticks([planned(1)], T0)  # another process's, say
    opened = ledger.finish_and_start([], [planned(1), planned(2)], STARTED, [0.0, 0.0])
    assert opened[0] is None
    assert opened[1] is not None
    new_id, number = opened[1]
    assert number == 1
    assert ledger.attempts(theirs.id) == []
    assert ledger.get(theirs.id) == theirs
    started = ledger.get(new_id)
    assert started is not None
    assert (started.state, started.attempts) == (TickState.RUNNING, 1)
    ledger.close()


def test_known_and_new_ticks_start_together_after_the_outcomes_before_them(
    tmp_path: Path,
) -> None:
    ledger = Ledger.open(tmp_path / "l.db")
    (pending,) = ledger.add_ticks([planned(1)], T0)
    (ran,) = ledger.add_ticks([planned(2)], T0)
    ledger.begin_attempts([ran], STARTED, [0.0])
    result = InvocationResult(Outcome.SUCCEEDED, 100.0, 100.25, {"ok": True}, logs="done\n")
    report = RunReport(ran, 1, 0.0, result, Decision(TickState.SUCCEEDED), STARTED)
    opened = ledger.finish_and_start([report], [planned(3), pending], STARTED, [0.0, 0.0])
    assert opened[1] == (pending.id, 1)
    assert opened[0] is not None
    assert opened[0][0] not in (pending.id, ran.id)
    finished = ledger.get(ran.id)
    assert finished is not None
    assert finished.state is TickState.SUCCEEDED
    (attempt,) = ledger.attempts(ran.id)
    assert (attempt.payload, attempt.logs, attempt.ended_at) == ('{"ok": true}', "done\n", STARTED)
    states = {t.id: t.state for t in ledger.find("every_minute")}
    assert states == {
        pending.id: TickState.RUNNING,
        ran.id: TickState.SUCCEEDED,
        opened[0][0]: TickState.RUNNING,
    }
    ledger.close()


def test_checkpoints_aside_moves_the_wal_into_the_file_and_gives_the_commits_theirs_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l.db"
    ledger = Ledger.open(path)

    def autocheckpoint() -> int:
        with ledger._lock:
            pages: int = ledger._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            return pages

    def ticks_in_file() -> int:
        """The database file alone, as if the WAL were gone: what checkpoints moved there."""
        in_file = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            tables = in_file.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ticks'")
            if not tables.fetchone()[0]:
                return 0
            count: int = in_file.execute("SELECT count(*) FROM ticks").fetchone()[0]
            return count
        finally:
            in_file.close()

    assert autocheckpoint() == 1000
    with ledger.checkpoints_aside():
        assert autocheckpoint() == 0
        ledger.add_ticks([planned(minute) for minute in range(1, 51)], T0)
        wait_for(lambda: ticks_in_file() == 50, what="the checkpoint thread's checkpoint")
    assert autocheckpoint() == 1000
    ledger.close()
