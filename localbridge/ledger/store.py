"""The run ledger: every tick and every attempt, durably, in SQLite (WAL).

A tick is one (function, scheduled instant) to deliver; the pair is unique, so
nothing scheduled is ever recorded - and so run - twice. Each attempt to run a
tick is its own row. The runtime commits a tick before the function starts
and the attempt's outcome after it ends, so a crash at any moment leaves a row
to recover from (see ``recover_interrupted``).

Instants are stored as fixed-width ISO-8601 UTC text, which sorts as time does.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from localbridge.instants import format_instant, parse_instant
from localbridge.ledger.connect import immediate_transaction
from localbridge.ledger.fired import Fired, Renumbered, delete_unfired, renumbered
from localbridge.ledger.opening import connect
from localbridge.ledger.owners import (
    LeaseKeeper,
    Owner,
    claim,
    live_owners,
    recover_orphaned,
    renew,
    this_process,
)
from localbridge.ledger.queries import Queries
from localbridge.ledger.rows import TICK_COLUMNS, Rows, new_tick, outcome_rows, tick_from_row
from localbridge.ledger.started import ReplayWrites
from localbridge.ticks import (
    AttemptEnd,
    FunctionMark,
    NewTick,
    Tick,
    TickSource,
    TickState,
)

DEFAULT_LEDGER = Path("data/localbridge.db")
INSERT_ATTEMPT = (
    "INSERT INTO attempts (tick_id, number, started_at, lateness_ms, owner) VALUES (?, ?, ?, ?, ?)"
)


class Ledger(Queries, ReplayWrites):
    """Thread-safe access to one ledger file. Open with ``Ledger.open(path)``."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        super().__init__(connection, threading.Lock())
        self.path = path
        self.owner: Owner | None = None
        self._lease: LeaseKeeper | None = None
        self._renumbered: Renumbered = {}

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """The ledger at ``path``, created or migrated; ``LedgerError`` when it cannot be."""
        return cls(connect(path), path)

    def close(self) -> None:
        """Close the file; this process no longer holds anything in it."""
        if self._lease is not None:
            self._lease.stop()
        if self.owner is not None:
            token, self.owner = self.owner.token, None
            with self._transaction() as db:
                db.execute("DELETE FROM owners WHERE token = ?", (token,))
        with self._lock:
            self._db.close()

    # -- owners ------------------------------------------------------------

    def claim(self, drives: bool) -> Owner:
        """Register this process (see ``owners``); a driver is refused beside a live one.

        Raises ``LedgerBusyError`` naming the process that drives the ledger.
        """
        if self.owner is None:
            owner = this_process(drives)
            with self._transaction() as db:
                claim(db, owner, self.path)
            self.owner = owner
            self._lease = LeaseKeeper(self._renew_lease)
        return self.owner

    def _renew_lease(self) -> None:
        if self.owner is not None:
            with self._transaction() as db:
                renew(db, self.owner.token)

    def live_driver(self) -> Owner | None:
        """Another live process that drives this ledger's schedules, if any."""
        with self._transaction() as db:
            owners = live_owners(db)
        mine = None if self.owner is None else self.owner.token
        return next((o for o in owners if o.drives and o.token != mine), None)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    # -- functions ---------------------------------------------------------

    def function_marks(self) -> dict[str, FunctionMark]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, expression, anchor, scheduled_through FROM functions"
            ).fetchall()
        return {
            row[0]: FunctionMark(row[0], row[1], parse_instant(row[2]), parse_instant(row[3]))
            for row in rows
        }

    def save_function_marks(self, marks: Iterable[FunctionMark]) -> None:
        with self._transaction() as db:
            self._upsert_marks(db, marks)

    @staticmethod
    def _upsert_marks(db: sqlite3.Connection, marks: Iterable[FunctionMark]) -> None:
        # The marks a fire moves share their instants: each formatted once (the
        # 20,000 of a 10,000-function fire were a third of its first commit).
        text = functools.cache(format_instant)
        db.executemany(
            "INSERT INTO functions (name, expression, anchor, scheduled_through) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "expression = excluded.expression, anchor = excluded.anchor, "
            "scheduled_through = max(scheduled_through, excluded.scheduled_through)",
            [
                (mark.name, mark.expression, text(mark.anchor), text(mark.scheduled_through))
                for mark in marks
            ],
        )

    # -- ticks -------------------------------------------------------------

    def add_ticks(
        self, ticks: Sequence[NewTick], now: datetime, marks: Iterable[FunctionMark] = ()
    ) -> list[Tick]:
        """Record ``ticks`` (and advance ``marks``) in one transaction.

        Returns only the ticks that were new: a (function, instant) already in
        the ledger is left as it is, which is what makes restarts safe.
        """
        stamp = format_instant(now)
        by_key = {(t.function, format_instant(t.scheduled_at)): t for t in ticks}
        # A batch's ticks mostly share one enqueued_at (a replay's chunk): format it once.
        enqueued = {moment: format_instant(moment) for moment in {t.enqueued_at for t in ticks}}
        rows = [
            (
                function,
                scheduled_at,
                tick.state.value,
                tick.source.value,
                enqueued[tick.enqueued_at],
                None if tick.event is None else json.dumps(tick.event),
                stamp,
                stamp,
                tick.request_id,
                tick.event_id,
            )
            for (function, scheduled_at), tick in by_key.items()
        ]
        with self._transaction() as db:
            # Within this (exclusive) transaction, the new rows are exactly
            # those with a larger id than any before it.
            before = db.execute("SELECT coalesce(max(id), 0) FROM ticks").fetchone()[0]
            db.executemany(
                "INSERT INTO ticks (function, scheduled_at, state, source, enqueued_at, "
                "event, created_at, updated_at, request_id, event_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            new_rows = db.execute(
                "SELECT id, function, scheduled_at FROM ticks WHERE id > ? ORDER BY id", (before,)
            ).fetchall()
            self._upsert_marks(db, marks)
        return [new_tick(row[0], by_key[(row[1], row[2])], now) for row in new_rows]

    def reopen(self, tick_ids: Iterable[int], source: TickSource, now: datetime) -> list[Tick]:
        """Make finished or stuck ticks pending again (redrive, replay), with a fresh age."""
        stamp = format_instant(now)
        reopened: list[Tick] = []
        with self._transaction() as db:
            for tick_id in tick_ids:
                row = db.execute(
                    "UPDATE ticks SET state = ?, source = ?, enqueued_at = ?, failures = 0, "
                    "next_attempt_at = NULL, updated_at = ? WHERE id = ? AND state != ? "
                    f"RETURNING {TICK_COLUMNS}",
                    (
                        TickState.PENDING.value,
                        source.value,
                        stamp,
                        stamp,
                        tick_id,
                        TickState.SUCCEEDED.value,
                    ),
                ).fetchone()
                if row is not None:
                    reopened.append(tick_from_row(row))
        return reopened

    def begin_attempt(self, tick_id: int, started_at: datetime, lateness_ms: float) -> int:
        """Mark the tick running and open its next attempt; returns the attempt number."""
        tick = self.get(tick_id)
        assert tick is not None, f"no tick {tick_id}"
        return self.begin_attempts([tick], started_at, [lateness_ms])[0]

    def begin_attempts(
        self, ticks: Sequence[Tick], started_at: datetime, lateness_ms: Sequence[float]
    ) -> list[int]:
        """``begin_attempt`` for many ticks in one transaction (one run per tick at a time)."""
        return self.finish_and_begin([], ticks, started_at, lateness_ms)

    def finish_and_begin(
        self,
        finished: Sequence[tuple[int, int, AttemptEnd]],
        ticks: Sequence[Tick],
        started_at: datetime,
        lateness_ms: Sequence[float],
        fired: Sequence[Fired] = (),
    ) -> list[int]:
        """``finish_attempts(finished)`` and ``begin_attempts(ticks, ...)`` in one transaction.

        The runtime records runs that ended and opens the ones taking their
        places with one commit rather than one each; ``fired`` (runs that
        started at their instant from ticks written ahead) goes first, so
        an outcome never precedes its attempt's row.
        """
        stamp = format_instant(started_at) if ticks else ""
        owner = None if self.owner is None else self.owner.token
        finished_rows, tick_rows = outcome_rows(finished)
        with self._transaction() as db:
            for record in fired:
                self._write_fired(db, record, owner)
            if finished:
                self._write_finishes(db, self._renumber(finished_rows), tick_rows)
            numbers = self._open_attempts(db, ticks, stamp, lateness_ms, owner) if ticks else []
        return numbers

    def _write_fired(self, db: sqlite3.Connection, fired: Fired, owner: str | None) -> None:
        if fired.ticks:
            stamp = format_instant(fired.started_at)
            numbers = self._open_attempts(db, fired.ticks, stamp, fired.lateness_ms, owner)
            self._renumbered.update(renumbered(fired.ticks, numbers))
        delete_unfired(db, fired.dropped)
        self._upsert_marks(db, fired.marks)

    def _renumber(self, rows: Rows) -> Rows:
        """Outcome rows with the attempt numbers ``_write_fired`` had to change (rare)."""
        if not self._renumbered:
            return rows
        return [(*row[:-1], self._renumbered.pop((row[-2], row[-1]), row[-1])) for row in rows]

    @classmethod
    def _open_attempts(
        cls,
        db: sqlite3.Connection,
        ticks: Sequence[Tick],
        stamp: str,
        lateness_ms: Sequence[float],
        owner: str | None,
    ) -> list[int]:
        """Mark ``ticks`` running and insert their attempts; the attempts' numbers."""
        numbers = cls._mark_running(db, ticks, stamp)
        db.executemany(
            INSERT_ATTEMPT,
            [
                (tick.id, number, stamp, lateness, owner)
                for tick, number, lateness in zip(ticks, numbers, lateness_ms, strict=True)
            ],
        )
        return numbers

    @staticmethod
    def _mark_running(db: sqlite3.Connection, ticks: Sequence[Tick], stamp: str) -> list[int]:
        """Mark ``ticks`` running; their new attempt numbers.

        A tick's ``attempts`` as the caller read it is right unless another
        process began an attempt of it since (two synchronous invocations of
        one second's tick). The update is conditional on it; when any tick
        moved on, every number of the batch is taken from the attempts already
        recorded, inside this transaction, so none is given twice.
        """
        running = TickState.RUNNING.value
        cursor = db.executemany(
            "UPDATE ticks SET state = ?, attempts = attempts + 1, next_attempt_at = NULL, "
            "updated_at = ? WHERE id = ? AND attempts = ?",
            [(running, stamp, tick.id, tick.attempts) for tick in ticks],
        )
        if cursor.rowcount == len(ticks):
            return [tick.attempts + 1 for tick in ticks]
        numbers = []
        for tick in ticks:
            (last,) = db.execute(
                "SELECT COALESCE(MAX(number), 0) FROM attempts WHERE tick_id = ?", (tick.id,)
            ).fetchone()
            db.execute(
                "UPDATE ticks SET state = ?, attempts = ?, next_attempt_at = NULL, updated_at = ? "
                "WHERE id = ?",
                (running, last + 1, stamp, tick.id),
            )
            numbers.append(last + 1)
        return numbers

    def abandon_attempts(self, opened: Sequence[tuple[int, int]], now: datetime) -> None:
        """Take back attempts ``(tick id, number)`` opened but never started (a stop
        came first): their rows go, their ticks are pending again with one attempt fewer."""
        stamp = format_instant(now)
        with self._transaction() as db:
            db.executemany(
                "DELETE FROM attempts WHERE tick_id = ? AND number = ? AND outcome IS NULL",
                opened,
            )
            db.executemany(
                "UPDATE ticks SET state = ?, attempts = attempts - 1, updated_at = ? "
                "WHERE id = ? AND attempts = ? AND state = ?",
                [
                    (TickState.PENDING.value, stamp, tick_id, number, TickState.RUNNING.value)
                    for tick_id, number in opened
                ],
            )

    def finish_attempt(self, tick_id: int, number: int, end: AttemptEnd) -> None:
        self.finish_attempts([(tick_id, number, end)])

    def finish_attempts(self, finished: Sequence[tuple[int, int, AttemptEnd]]) -> None:
        """Record the outcomes of attempts, and their ticks' next states, in one transaction."""
        self.finish_and_begin(finished, [], datetime.min, [])

    @staticmethod
    def _write_finishes(db: sqlite3.Connection, attempt_rows: Rows, tick_rows: Rows) -> None:
        db.executemany(
            "UPDATE attempts SET ended_at = ?, duration_ms = ?, outcome = ?, error_type = ?, "
            "error_message = ?, traceback = ?, payload = ?, payload_truncated = ?, logs = ? "
            "WHERE tick_id = ? AND number = ?",
            attempt_rows,
        )
        db.executemany(
            "UPDATE ticks SET state = ?, failures = failures + ?, next_attempt_at = ?, "
            "updated_at = ? WHERE id = ?",
            tick_rows,
        )

    def set_state(
        self, tick_id: int, state: TickState, now: datetime, next_attempt_at: datetime | None = None
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE ticks SET state = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
                (
                    state.value,
                    None if next_attempt_at is None else format_instant(next_attempt_at),
                    format_instant(now),
                    tick_id,
                ),
            )

    def recover_interrupted(self, now: datetime) -> int:
        """Close attempts whose process is gone (a crash, kill -9); their ticks become pending.

        Attempts of live processes - a ``run`` beside this ``invoke``, say -
        are theirs to finish. An interrupted attempt is not the function's
        failure, so it does not use up a retry: the tick simply gets a new
        attempt (at-least-once).
        """
        with self._transaction() as db:
            return recover_orphaned(db, format_instant(now))

    def purge(self, tick_ids: Iterable[int]) -> list[Tick]:
        """Delete dead ticks and their attempts for good (``dlq purge``); the ones deleted.

        Only dead ticks: anything else is still to run, or is history.
        """
        purged = []
        with self._transaction() as db:
            for tick_id in tick_ids:
                row = db.execute(
                    f"DELETE FROM ticks WHERE id = ? AND state = ? RETURNING {TICK_COLUMNS}",
                    (tick_id, TickState.DEAD.value),
                ).fetchone()
                if row is not None:
                    db.execute("DELETE FROM attempts WHERE tick_id = ?", (tick_id,))
                    purged.append(tick_from_row(row))
        return purged
