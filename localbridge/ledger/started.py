"""Recording ticks at the moment their first attempt starts (a replay's new ticks).

A replay knows its period in advance, but writing each tick ``pending`` ahead
of its run only to mark it ``running`` a moment later costs a statement and a
transaction per tick. Instead the tick row goes in already ``running``, with
its first attempt, in the transaction that opens the attempt: the rows are
exactly the ones ``add_ticks`` then ``begin_attempts`` leave, and a crash
leaves either nothing (the next replay records the tick) or a running
attempt to recover (the next replay runs it again). A (function, instant)
recorded meanwhile by another process is left to that process.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Protocol

from localbridge.instants import format_instant
from localbridge.ledger.checkpoints import checkpoints_aside
from localbridge.ledger.owners import Owner
from localbridge.ledger.rows import Rows, report_rows
from localbridge.ticks import NewTick, RunReport, Tick, TickState

INSERT_RUNNING = (
    "INSERT INTO ticks (function, scheduled_at, state, source, attempts, enqueued_at, event, "
    "created_at, updated_at, request_id, event_id) "
    f"VALUES (?, ?, '{TickState.RUNNING.value}', ?, 1, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
INSERT_FIRST_ATTEMPT = (
    "INSERT INTO attempts (tick_id, number, started_at, lateness_ms, owner) VALUES (?, 1, ?, ?, ?)"
)


def running_rows(ticks: Sequence[NewTick], stamp: str) -> Rows:
    """The ``ticks`` rows of ``ticks`` running from ``stamp`` (built before the transaction:
    the ledger's lock is held for the writes alone).

    Each tick's ``enqueued_at`` is also its ``created_at``, as a replay's
    ``add_ticks`` wrote them.
    """
    enqueued = {moment: format_instant(moment) for moment in {t.enqueued_at for t in ticks}}
    return [
        (
            tick.function,
            format_instant(tick.scheduled_at),
            tick.source.value,
            enqueued[tick.enqueued_at],
            None if tick.event is None else json.dumps(tick.event),
            enqueued[tick.enqueued_at],
            stamp,
            tick.request_id,
            tick.event_id,
        )
        for tick in ticks
    ]


def insert_running(
    db: sqlite3.Connection,
    rows: Rows,
    stamp: str,
    lateness_ms: Sequence[float],
    owner: str | None,
) -> list[int | None]:
    """Record ``running_rows`` as attempt 1 from ``stamp`` (call in a write transaction).

    Returns each tick's id, None for one already in the ledger (not
    recorded, not to be run).
    """
    before = db.execute("SELECT coalesce(max(id), 0) FROM ticks").fetchone()[0]
    cursor = db.executemany(INSERT_RUNNING, rows)
    ids: list[int | None]
    if cursor.rowcount == len(rows):
        # Within this exclusive transaction each new row takes the next id.
        ids = list(range(before + 1, before + 1 + len(rows)))
    else:
        new = db.execute(
            "SELECT id, function, scheduled_at FROM ticks WHERE id > ?", (before,)
        ).fetchall()
        by_key = {(row[1], row[2]): row[0] for row in new}
        ids = [by_key.get((row[0], row[1])) for row in rows]
    db.executemany(
        INSERT_FIRST_ATTEMPT,
        [
            (tick_id, stamp, lateness, owner)
            for tick_id, lateness in zip(ids, lateness_ms, strict=True)
            if tick_id is not None
        ],
    )
    return ids


class _Store(Protocol):
    """What ``ReplayWrites`` uses of the ``Ledger`` it is part of."""

    path: Path
    owner: Owner | None
    _db: sqlite3.Connection
    _lock: threading.Lock

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def _renumber(self, rows: Rows) -> Rows: ...

    @staticmethod
    def _write_finishes(db: sqlite3.Connection, attempt_rows: Rows, tick_rows: Rows) -> None: ...

    @classmethod
    def _open_attempts(
        cls,
        db: sqlite3.Connection,
        ticks: Sequence[Tick],
        stamp: str,
        lateness_ms: Sequence[float],
        owner: str | None,
    ) -> list[int]: ...


class ReplayWrites:
    """The ``Ledger``'s writes for a replay's workers."""

    def checkpoints_aside(self: _Store) -> AbstractContextManager[None]:
        """Within this, a thread of its own checkpoints, not the commits (``checkpoints``)."""
        return checkpoints_aside(self.path, self._db, self._lock)

    def finish_and_start(
        self: _Store,
        finished: Sequence[RunReport],
        ticks: Sequence[Tick | NewTick],
        started_at: datetime,
        lateness_ms: Sequence[float],
    ) -> list[tuple[int, int] | None]:
        """``finish_and_begin`` of run reports, where ``ticks`` may be new (recorded running).

        Returns each tick's (id, attempt number) in order; None for a new tick
        recorded meanwhile by another process (not to be run here).
        """
        stamp = format_instant(started_at)
        owner = None if self.owner is None else self.owner.token
        finished_rows, tick_rows = report_rows(finished)
        known: list[tuple[int, Tick, float]] = []
        new: list[tuple[int, NewTick, float]] = []
        for index, (tick, lateness) in enumerate(zip(ticks, lateness_ms, strict=True)):
            if isinstance(tick, Tick):
                known.append((index, tick, lateness))
            else:
                new.append((index, tick, lateness))
        opened: list[tuple[int, int] | None] = [None] * len(ticks)
        rows = running_rows([x[1] for x in new], stamp)
        with self._transaction() as db:
            if finished:
                self._write_finishes(db, self._renumber(finished_rows), tick_rows)
            if known:
                old = [tick for _, tick, _ in known]
                numbers = self._open_attempts(db, old, stamp, [x[2] for x in known], owner)
                for (index, tick, _), number in zip(known, numbers, strict=True):
                    opened[index] = (tick.id, number)
            if new:
                ids = insert_running(db, rows, stamp, [x[2] for x in new], owner)
                for (index, _, _), tick_id in zip(new, ids, strict=True):
                    opened[index] = None if tick_id is None else (tick_id, 1)
        return opened
