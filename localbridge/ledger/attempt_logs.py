"""Reading attempts' logs function by function, as ``localbridge logs`` shows them.

A reader of its own (a read-only connection), so following a ledger that a
running ``localbridge run`` writes never takes the writer's lock.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from localbridge.instants import format_instant
from localbridge.ledger.rows import ATTEMPT_COLUMNS, attempt_from_row
from localbridge.ticks import Attempt

_QUALIFIED = ", ".join(f"a.{name.strip()}" for name in ATTEMPT_COLUMNS.split(","))


class AttemptLogs:
    """The finished attempts of one function, oldest start first."""

    def __init__(self, path: Path, function: str) -> None:
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 30000")
        self.function = function
        self._low = 0
        """Every attempt with a row id up to here was finished when last read."""
        self._shown: set[int] = set()

    def close(self) -> None:
        self._db.close()

    def read_new(self, since: datetime | None = None) -> list[Attempt]:
        """Attempts finished since the last call (all of them the first time).

        An attempt's row id is fixed when it begins; one that began early and
        finishes late is still found, because reading restarts from the
        oldest attempt that was unfinished last time.
        """
        rows = self._db.execute(
            f"SELECT a.rowid, a.ended_at IS NOT NULL, {_QUALIFIED} FROM attempts AS a "
            "JOIN ticks AS t ON t.id = a.tick_id "
            "WHERE t.function = ? AND a.started_at >= ? AND a.rowid > ? "
            "ORDER BY a.started_at, a.rowid",
            (self.function, format_instant(since) if since else "", self._low),
        ).fetchall()
        fresh = [row for row in rows if row[1] and row[0] not in self._shown]
        self._shown.update(row[0] for row in fresh)
        open_ids = [row[0] for row in rows if not row[1]]
        self._low = min(open_ids) - 1 if open_ids else max([self._low, *self._shown])
        self._shown = {rowid for rowid in self._shown if rowid > self._low}
        return [attempt_from_row(row[2:]) for row in fresh]
