"""The run ledger: every tick and every attempt, durably, in SQLite (WAL).

A tick is one (function, scheduled instant) to deliver; the pair is unique, so
nothing scheduled is ever recorded - and so run - twice. Each attempt to run a
tick is its own row. The runtime commits a tick before the function starts
and the attempt's outcome after it ends, so a crash at any moment leaves a row
to recover from (see ``recover_interrupted``).

Instants are stored as fixed-width ISO-8601 UTC text, which sorts as time does.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from localbridge.instants import format_instant, parse_instant
from localbridge.ledger.rows import (
    ATTEMPT_COLUMNS,
    TICK_COLUMNS,
    Rows,
    attempt_from_row,
    new_tick,
    outcome_rows,
    tick_from_row,
)
from localbridge.ledger.schema import migrate
from localbridge.ticks import (
    Attempt,
    AttemptEnd,
    AttemptOutcome,
    FunctionMark,
    NewTick,
    Tick,
    TickSource,
    TickState,
)

DEFAULT_LEDGER = Path("data/localbridge.db")


class Ledger:
    """Thread-safe access to one ledger file. Open with ``Ledger.open(path)``."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Ledger:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 30000")
        connection.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL survives any process crash (kill -9); only a power
        # loss can take the last commits, which is the trade SQLite recommends.
        connection.execute("PRAGMA synchronous = NORMAL")
        ledger = cls(connection, path)
        ledger._migrate()
        return ledger

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._transaction() as db:
            migrate(db, self.path)

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

    def save_function_mark(self, mark: FunctionMark) -> None:
        self.save_function_marks([mark])

    def save_function_marks(self, marks: Iterable[FunctionMark]) -> None:
        with self._transaction() as db:
            self._upsert_marks(db, marks)

    @staticmethod
    def _upsert_marks(db: sqlite3.Connection, marks: Iterable[FunctionMark]) -> None:
        db.executemany(
            "INSERT INTO functions (name, expression, anchor, scheduled_through) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "expression = excluded.expression, anchor = excluded.anchor, "
            "scheduled_through = max(scheduled_through, excluded.scheduled_through)",
            [
                (
                    mark.name,
                    mark.expression,
                    format_instant(mark.anchor),
                    format_instant(mark.scheduled_through),
                )
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
        rows = [
            (
                function,
                scheduled_at,
                tick.state.value,
                tick.source.value,
                format_instant(tick.enqueued_at),
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
    ) -> list[int]:
        """``finish_attempts(finished)`` and ``begin_attempts(ticks, ...)`` in one transaction.

        The runtime records runs that ended and opens the ones taking their
        places with one commit rather than one each.
        """
        stamp = format_instant(started_at) if ticks else ""
        numbers = [tick.attempts + 1 for tick in ticks]
        attempt_rows, tick_rows = outcome_rows(finished)
        with self._transaction() as db:
            if finished:
                self._write_finishes(db, attempt_rows, tick_rows)
            if ticks:
                db.executemany(
                    "UPDATE ticks SET state = ?, attempts = ?, next_attempt_at = NULL, "
                    "updated_at = ? WHERE id = ?",
                    [
                        (TickState.RUNNING.value, number, stamp, tick.id)
                        for tick, number in zip(ticks, numbers, strict=True)
                    ],
                )
                db.executemany(
                    "INSERT INTO attempts (tick_id, number, started_at, lateness_ms) "
                    "VALUES (?, ?, ?, ?)",
                    [
                        (tick.id, number, stamp, lateness)
                        for tick, number, lateness in zip(ticks, numbers, lateness_ms, strict=True)
                    ],
                )
        return numbers

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
        """Close attempts a crash left open; their ticks become pending again.

        An interrupted attempt is not the function's failure, so it does not
        use up a retry: the tick simply gets a new attempt (at-least-once).
        """
        stamp = format_instant(now)
        with self._transaction() as db:
            db.execute(
                "UPDATE attempts SET outcome = ?, ended_at = ?, error_type = ?, error_message = ? "
                "WHERE outcome IS NULL",
                (
                    AttemptOutcome.INTERRUPTED.value,
                    stamp,
                    "Interrupted",
                    "localbridge stopped while this attempt ran",
                ),
            )
            cursor = db.execute(
                "UPDATE ticks SET state = ?, updated_at = ? WHERE state = ?",
                (TickState.PENDING.value, stamp, TickState.RUNNING.value),
            )
            return cursor.rowcount

    # -- queries -----------------------------------------------------------

    def _select_ticks(self, where: str, params: Sequence[Any], suffix: str = "") -> list[Tick]:
        sql = f"SELECT {TICK_COLUMNS} FROM ticks WHERE {where} {suffix}"
        with self._lock:
            return [tick_from_row(row) for row in self._db.execute(sql, params).fetchall()]

    def get(self, tick_id: int) -> Tick | None:
        ticks = self._select_ticks("id = ?", (tick_id,))
        return ticks[0] if ticks else None

    def unfinished(self) -> list[Tick]:
        """Pending and retrying ticks, oldest scheduled first."""
        return self._select_ticks(
            "state IN (?, ?)",
            (TickState.PENDING.value, TickState.RETRYING.value),
            "ORDER BY scheduled_at, id",
        )

    def ticks_between(
        self, functions: Sequence[str], after: datetime, through: datetime
    ) -> list[Tick]:
        marks = ", ".join("?" for _ in functions)
        return self._select_ticks(
            f"function IN ({marks}) AND scheduled_at > ? AND scheduled_at <= ?",
            (*functions, format_instant(after), format_instant(through)),
            "ORDER BY scheduled_at, id",
        )

    def states_between(
        self, functions: Sequence[str], after: datetime, through: datetime
    ) -> dict[TickState, int]:
        """How many of ``functions``' ticks in (after, through] are in each state."""
        marks = ", ".join("?" for _ in functions)
        with self._lock:
            rows = self._db.execute(
                f"SELECT state, count(*) FROM ticks WHERE function IN ({marks}) "
                "AND scheduled_at > ? AND scheduled_at <= ? GROUP BY state",
                (*functions, format_instant(after), format_instant(through)),
            ).fetchall()
        return {TickState(row[0]): row[1] for row in rows}

    def find(
        self,
        function: str | None = None,
        state: TickState | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Tick]:
        """Ticks matching every given filter, most recently scheduled last."""
        clauses, params = ["1 = 1"], []
        if function is not None:
            clauses.append("function = ?")
            params.append(function)
        if state is not None:
            clauses.append("state = ?")
            params.append(state.value)
        if since is not None:
            clauses.append("scheduled_at >= ?")
            params.append(format_instant(since))
        suffix = "ORDER BY scheduled_at DESC, id DESC"
        if limit is not None:
            suffix += f" LIMIT {int(limit)}"
        return list(reversed(self._select_ticks(" AND ".join(clauses), params, suffix)))

    def attempts(self, tick_id: int) -> list[Attempt]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE tick_id = ? ORDER BY number",
                (tick_id,),
            ).fetchall()
        return [attempt_from_row(row) for row in rows]

    def last_states(self) -> dict[str, TickState]:
        """Each function's most recently scheduled tick's state."""
        with self._lock:
            rows = self._db.execute(
                "SELECT function, state FROM ticks AS t WHERE scheduled_at = "
                "(SELECT max(scheduled_at) FROM ticks WHERE function = t.function "
                " AND state != ?)",
                (TickState.SKIPPED.value,),
            ).fetchall()
        return {row[0]: TickState(row[1]) for row in rows}

    def counts(self) -> dict[TickState, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM ticks GROUP BY state").fetchall()
        return {TickState(row[0]): row[1] for row in rows}
