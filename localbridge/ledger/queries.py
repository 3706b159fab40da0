"""Reading the run ledger: ticks by state, function and time; attempts; summaries."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from localbridge.instants import format_instant
from localbridge.ledger.locking import LockWait
from localbridge.ledger.rows import ATTEMPT_COLUMNS, TICK_COLUMNS, attempt_from_row, tick_from_row
from localbridge.ticks import Attempt, Tick, TickState


class Queries:
    """The ledger's reads (``Ledger`` adds the writes); one connection, one lock."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.Lock) -> None:
        self._db = connection
        self._lock = lock
        self.lock_wait = LockWait()
        """How this connection's writes wait for another's lock; ``give_up`` on a fault."""

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
        self, functions: Sequence[str], after: datetime, through: datetime, invoked: bool = False
    ) -> list[Tick]:
        """``functions``' ticks in (after, through]: of the scheduled instants (schedule,
        catch-up, replay, redrive), or with ``invoked`` of the invocations."""
        marks = ", ".join("?" for _ in functions)
        return self._select_ticks(
            f"function IN ({marks}) AND scheduled_at > ? AND scheduled_at <= ? AND invoked = ?",
            (*functions, format_instant(after), format_instant(through), int(invoked)),
            "ORDER BY scheduled_at, id",
        )

    def states_between(
        self, functions: Sequence[str], after: datetime, through: datetime
    ) -> dict[TickState, int]:
        """How many of ``functions``' scheduled instants in (after, through] are in
        each state (invocations of those instants left out, as ``ticks_between``)."""
        marks = ", ".join("?" for _ in functions)
        with self._lock:
            rows = self._db.execute(
                f"SELECT state, count(*) FROM ticks WHERE function IN ({marks}) "
                "AND scheduled_at > ? AND scheduled_at <= ? AND NOT invoked GROUP BY state",
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
        """Each function's most recently scheduled tick's state (skipped ones passed over).

        The function names come from a skip scan of the (function, ...) index
        and each last tick from its end, so the cost follows the number of
        functions, not of ticks.
        """
        with self._lock:
            rows = self._db.execute(
                "WITH RECURSIVE names(name) AS (SELECT min(function) FROM ticks UNION ALL "
                "SELECT (SELECT min(function) FROM ticks WHERE function > name) FROM names "
                "WHERE name IS NOT NULL) "
                "SELECT name, (SELECT state FROM ticks WHERE function = name AND state != ? "
                "ORDER BY scheduled_at DESC LIMIT 1) FROM names WHERE name IS NOT NULL",
                (TickState.SKIPPED.value,),
            ).fetchall()
        return {row[0]: TickState(row[1]) for row in rows if row[1] is not None}

    def counts(self) -> dict[TickState, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM ticks GROUP BY state").fetchall()
        return {TickState(row[0]): row[1] for row in rows}
