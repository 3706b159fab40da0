"""Recording a run: its tick, its attempts and their outcomes, durably, in group commits.

The guarantees every write here keeps:

- a tick is committed before its function starts: a scheduled tick is written
  ``pending`` ahead of its instant (``add_ticks``); what only the instant
  decides - its attempt row, the tick ``running``, the function's mark moved
  on, a tick written ahead and not fired after all (paused or reloaded since:
  its row is deleted) - is a ``Fired`` record, written right after the runs
  started, before (or with) any of their outcomes;
- an attempt's outcome is committed after it ends (``finish_and_begin``), with
  the tick's next state; so a crash at any moment leaves a row to recover
  (``Ledger.recover_interrupted``: a ``running`` attempt; or a ``pending``
  tick, which the next start runs);
- under a burst the fires, the outcomes and the attempts taking their places
  go in one transaction (``finish_and_begin``): a commit per batch, not one
  per run;
- a replay's new ticks go in already ``running`` with their first attempt
  (``finish_and_start``): the rows ``add_ticks`` then ``begin_attempts``
  would leave, without a statement and a transaction per tick.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from localbridge.instants import format_instant
from localbridge.ledger.connect import immediate_transaction
from localbridge.ledger.owners import Owner
from localbridge.ledger.queries import Queries
from localbridge.ledger.rows import Rows, is_invoked, new_tick, outcome_rows, report_rows
from localbridge.ticks import (
    AttemptEnd,
    Fired,
    FunctionMark,
    NewTick,
    RunReport,
    Tick,
    TickState,
)

Finished = tuple[int, int, AttemptEnd]
"""An attempt that ended: (tick id, attempt number, its end)."""
Renumbered = dict[tuple[int, int], int]
"""(tick id, the attempt number a run started with) -> the number the ledger gave it."""

INSERT_TICK = (
    "INSERT INTO ticks (function, scheduled_at, state, source, enqueued_at, "
    "event, created_at, updated_at, request_id, event_id, invoked) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
INSERT_RUNNING = (
    "INSERT INTO ticks (function, scheduled_at, state, source, attempts, enqueued_at, event, "
    "created_at, updated_at, request_id, event_id, invoked) "
    f"VALUES (?, ?, '{TickState.RUNNING.value}', ?, 1, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
event_text = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode
"""An event as the ledger keeps it: compact JSON, written for every tick - twice as
fast as ``json.dumps`` (an event, parsed JSON or built, holds no cycle to check for)."""
INSERT_ATTEMPT = (
    "INSERT INTO attempts (tick_id, number, started_at, lateness_ms, owner) VALUES (?, ?, ?, ?, ?)"
)
INSERT_FIRST_ATTEMPT = (
    "INSERT INTO attempts (tick_id, number, started_at, lateness_ms, owner) VALUES (?, 1, ?, ?, ?)"
)


class RunWrites(Queries):
    """The ledger's writes of runs (``Ledger`` adds owners, marks and administration)."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.Lock) -> None:
        super().__init__(connection, lock)
        self.owner: Owner | None = None
        self._renumbered: Renumbered = {}

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock, self.lock_wait)

    @property
    def _owner_token(self) -> str | None:
        return None if self.owner is None else self.owner.token

    # -- ticks -------------------------------------------------------------

    def add_ticks(
        self, ticks: Sequence[NewTick], now: datetime, marks: Iterable[FunctionMark] = ()
    ) -> list[Tick]:
        """Record ``ticks`` pending (and advance ``marks``) in one transaction.

        Returns only the ticks that were new: a (function, instant) already in
        the ledger is left as it is, and a scheduled instant pruned since is not
        recorded again (``not_pruned``), which is what makes restarts safe. An
        invocation's instant is apart from the schedule's (``rows.is_invoked``):
        neither ever holds the other's.
        """
        stamp = format_instant(now)
        by_key = {(t.function, format_instant(t.scheduled_at), is_invoked(t)): t for t in ticks}
        # A batch's ticks mostly share one enqueued_at (a replay's chunk): format it once.
        enqueued = {moment: format_instant(moment) for moment in {t.enqueued_at for t in ticks}}
        rows = [
            (
                function,
                scheduled_at,
                tick.state.value,
                tick.source.value,
                enqueued[tick.enqueued_at],
                None if tick.event is None else event_text(tick.event),
                stamp,
                stamp,
                tick.request_id,
                tick.event_id,
                invoked,
            )
            for (function, scheduled_at, invoked), tick in by_key.items()
        ]
        with self._transaction() as db:
            # Within this (exclusive) transaction, the new rows are exactly
            # those with a larger id than any before it.
            before = db.execute("SELECT coalesce(max(id), 0) FROM ticks").fetchone()[0]
            db.executemany(INSERT_TICK, not_pruned(db, rows))
            new_rows = db.execute(
                "SELECT id, function, scheduled_at, invoked FROM ticks WHERE id > ? ORDER BY id",
                (before,),
            ).fetchall()
            upsert_marks(db, marks)
        return [new_tick(row[0], by_key[(row[1], row[2], row[3])], now) for row in new_rows]

    # -- attempts ----------------------------------------------------------

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

    def finish_attempt(self, tick_id: int, number: int, end: AttemptEnd) -> None:
        self.finish_attempts([(tick_id, number, end)])

    def finish_attempts(self, finished: Sequence[Finished]) -> None:
        """Record the outcomes of attempts, and their ticks' next states, in one transaction."""
        self.finish_and_begin(finished, [], datetime.min, [])

    def finish_and_begin(
        self,
        finished: Sequence[Finished],
        ticks: Sequence[Tick],
        started_at: datetime,
        lateness_ms: Sequence[float],
        fired: Sequence[Fired] = (),
    ) -> list[int]:
        """The group commit: ``fired`` first (so an outcome never precedes its
        attempt's row), then the ``finished`` attempts, then attempts of
        ``ticks`` opened from ``started_at``; their numbers."""
        stamp = format_instant(started_at) if ticks else ""
        owner = self._owner_token
        finished_rows, tick_rows = outcome_rows(finished)
        with self._transaction() as db:
            for record in fired:
                self._write_fired(db, record, owner)
            if finished:
                write_finishes(db, self._renumber(finished_rows), tick_rows)
            return open_attempts(db, ticks, stamp, lateness_ms, owner) if ticks else []

    def finish_and_start(
        self,
        finished: Sequence[RunReport],
        ticks: Sequence[Tick | NewTick],
        started_at: datetime,
        lateness_ms: Sequence[float],
    ) -> list[tuple[int, int] | None]:
        """A replay's group commit: ``finish_and_begin`` of run reports, where ``ticks``
        may be new (recorded running with their first attempt).

        Returns each tick's (id, attempt number) in order; None for a new tick
        recorded meanwhile by another process (not to be run here).
        """
        stamp = format_instant(started_at)
        owner = self._owner_token
        finished_rows, tick_rows = report_rows(finished)
        indexed = list(enumerate(zip(ticks, lateness_ms, strict=True)))
        new = [(i, t, late) for i, (t, late) in indexed if isinstance(t, NewTick)]
        old = [(i, t, late) for i, (t, late) in indexed if isinstance(t, Tick)]
        opened: list[tuple[int, int] | None] = [None] * len(ticks)
        rows = running_rows([tick for _, tick, _ in new], stamp)
        with self._transaction() as db:
            if finished:
                write_finishes(db, self._renumber(finished_rows), tick_rows)
            if old:
                numbers = open_attempts(
                    db, [t for _, t, _ in old], stamp, [x[2] for x in old], owner
                )
                for (index, tick, _), number in zip(old, numbers, strict=True):
                    opened[index] = (tick.id, number)
            if new:
                ids = insert_running(db, rows, stamp, [x[2] for x in new], owner)
                for (index, _, _), tick_id in zip(new, ids, strict=True):
                    opened[index] = None if tick_id is None else (tick_id, 1)
        return opened

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

    def set_state(
        self, tick_id: int, state: TickState, now: datetime, next_attempt_at: datetime | None = None
    ) -> None:
        """Move a tick to ``state`` without an attempt (the dead-letter queue, a retry)."""
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

    # -- inside a transaction ------------------------------------------------

    def _write_fired(self, db: sqlite3.Connection, fired: Fired, owner: str | None) -> None:
        if fired.ticks:
            stamp = format_instant(fired.started_at)
            numbers = open_attempts(db, fired.ticks, stamp, fired.lateness_ms, owner)
            self._renumbered.update(renumbered(fired.ticks, numbers))
        db.executemany(
            "DELETE FROM ticks WHERE id = ? AND state = ? AND attempts = 0",
            [(tick_id, TickState.PENDING.value) for tick_id in fired.dropped],
        )
        upsert_marks(db, fired.marks)

    def _renumber(self, rows: Rows) -> Rows:
        """Outcome rows with the attempt numbers ``_write_fired`` had to change (rare)."""
        if not self._renumbered:
            return rows
        return [(*row[:-1], self._renumbered.pop((row[-2], row[-1]), row[-1])) for row in rows]


def not_pruned(db: sqlite3.Connection, rows: Rows) -> Rows:
    """``rows`` (of ``INSERT_TICK``) but the scheduled instants pruning removed: handled
    once already, they are not recorded (nor run) again (``pruning.remember``)."""
    spans = {
        row[0]: (row[1], row[2])
        for row in db.execute("SELECT function, first, through FROM pruned")
    }
    if not spans:
        return rows
    none = ("", "")
    return [
        row
        for row in rows
        if row[-1] or not spans.get(row[0], none)[0] <= row[1] <= spans.get(row[0], none)[1]
    ]


def renumbered(ticks: Sequence[Tick], numbers: Sequence[int]) -> Renumbered:
    """Runs whose number another process took first (one that ran the same tick
    in between, a replay say): their outcomes go to the number they were given."""
    return {
        (tick.id, tick.attempts + 1): number
        for tick, number in zip(ticks, numbers, strict=True)
        if number != tick.attempts + 1
    }


def upsert_marks(db: sqlite3.Connection, marks: Iterable[FunctionMark]) -> None:
    """Move functions' marks on (never back), or record new ones."""
    # The marks a fire moves share their instants: each formatted once.
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


def open_attempts(
    db: sqlite3.Connection,
    ticks: Sequence[Tick],
    stamp: str,
    lateness_ms: Sequence[float],
    owner: str | None,
) -> list[int]:
    """Mark ``ticks`` running and insert their attempts; the attempts' numbers."""
    numbers = mark_running(db, ticks, stamp)
    db.executemany(
        INSERT_ATTEMPT,
        [
            (tick.id, number, stamp, lateness, owner)
            for tick, number, lateness in zip(ticks, numbers, lateness_ms, strict=True)
        ],
    )
    return numbers


def mark_running(db: sqlite3.Connection, ticks: Sequence[Tick], stamp: str) -> list[int]:
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


def write_finishes(db: sqlite3.Connection, attempt_rows: Rows, tick_rows: Rows) -> None:
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


def running_rows(ticks: Sequence[NewTick], stamp: str) -> Rows:
    """The ``ticks`` rows of new ``ticks`` running from ``stamp`` (built before the
    transaction: the ledger's lock is held for the writes alone).

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
            None if tick.event is None else event_text(tick.event),
            enqueued[tick.enqueued_at],
            stamp,
            tick.request_id,
            tick.event_id,
            is_invoked(tick),
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
    """Record ``running_rows`` as attempt 1 from ``stamp``: each tick's id, None
    for one already in the ledger (not recorded, not to be run)."""
    before = db.execute("SELECT coalesce(max(id), 0) FROM ticks").fetchone()[0]
    cursor = db.executemany(INSERT_RUNNING, not_pruned(db, rows))
    ids: list[int | None]
    if cursor.rowcount == len(rows):
        # Within this exclusive transaction each new row takes the next id.
        ids = list(range(before + 1, before + 1 + len(rows)))
    else:
        new = db.execute(
            "SELECT id, function, scheduled_at, invoked FROM ticks WHERE id > ?", (before,)
        ).fetchall()
        by_key = {(row[1], row[2], row[3]): row[0] for row in new}
        ids = [by_key.get((row[0], row[1], row[-1])) for row in rows]
    db.executemany(
        INSERT_FIRST_ATTEMPT,
        [
            (tick_id, stamp, lateness, owner)
            for tick_id, lateness in zip(ids, lateness_ms, strict=True)
            if tick_id is not None
        ],
    )
    return ids
