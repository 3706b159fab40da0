"""The ledger's history as the console reads it: runs by filter, one run's attempts
with their logs, dead letters, each function's last run; and purging dead letters.

Reads go through their own connection (``connect``), so a page never waits on
the runtime's writes; ``changes`` tells a live page when something committed.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from localbridge.instants import format_instant, parse_instant
from localbridge.ledger.connect import LedgerConnection
from localbridge.ledger.rows import TICK_COLUMNS, attempt_from_row, tick_from_row
from localbridge.ticks import Attempt, FunctionMark, Tick, TickSource, TickState

ATTEMPT_COLUMNS = (
    "tick_id, number, started_at, ended_at, lateness_ms, duration_ms, outcome, "
    "error_type, error_message, traceback, payload, payload_truncated, logs"
)


def attempt_of(row: sqlite3.Row) -> Attempt:
    """An attempt with what the function printed (the store's rows leave it out)."""
    return dataclasses.replace(attempt_from_row(row), logs=row[12])


@dataclass(frozen=True)
class RunFilter:
    """What ``/runs`` shows: every given filter applies; ``before_id`` pages back to
    older runs, ``after_id`` forward to newer ones (keyset pages: no count, no offset)."""

    function: str | None = None
    state: TickState | None = None
    source: TickSource | None = None
    since: datetime | None = None
    """Scheduled at or after this instant."""
    until: datetime | None = None
    """Scheduled before this instant."""
    before_id: int | None = None
    after_id: int | None = None
    limit: int = 100

    def where(self) -> tuple[str, list[object]]:
        clauses, params = ["1 = 1"], list[object]()
        for clause, value in (
            ("function = ?", self.function),
            ("state = ?", None if self.state is None else self.state.value),
            ("source = ?", None if self.source is None else self.source.value),
            ("scheduled_at >= ?", None if self.since is None else format_instant(self.since)),
            ("scheduled_at < ?", None if self.until is None else format_instant(self.until)),
            ("id < ?", self.before_id),
            ("id > ?", self.after_id),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class Run:
    """A tick with its latest attempt (None before the first starts)."""

    tick: Tick
    last: Attempt | None


class LedgerReader:
    """The console's queries over one ledger file."""

    def __init__(self, path: Path) -> None:
        self._connection = LedgerConnection(path)
        self.path = path

    def close(self) -> None:
        self._connection.close()

    def changes(self) -> int:
        """A number that changes whenever anything is committed to the ledger."""
        return self._connection.data_version()

    def runs(self, chosen: RunFilter) -> list[Run]:
        """A page of matching ticks, most recently recorded first, with their latest
        attempts. Ordered by id, so the ledger's id indexes serve any page at once."""
        where, params = chosen.where()
        # A page of newer runs is the one just above ``after_id``: read upwards.
        upwards = chosen.after_id is not None and chosen.before_id is None
        rows = self._connection.query(
            f"SELECT {TICK_COLUMNS} FROM ticks WHERE {where} "
            f"ORDER BY id {'ASC' if upwards else 'DESC'} LIMIT {int(chosen.limit)}",
            params,
        )
        ticks = [tick_from_row(row) for row in (reversed(rows) if upwards else rows)]
        last = self._last_attempts([tick.id for tick in ticks])
        return [Run(tick, last.get(tick.id)) for tick in ticks]

    def _last_attempts(self, tick_ids: Sequence[int]) -> dict[int, Attempt]:
        if not tick_ids:
            return {}
        marks = ", ".join("?" for _ in tick_ids)
        rows = self._connection.query(
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts AS a WHERE tick_id IN ({marks}) "
            "AND number = (SELECT max(number) FROM attempts WHERE tick_id = a.tick_id)",
            list(tick_ids),
        )
        return {attempt.tick_id: attempt for attempt in map(attempt_of, rows)}

    def recent_marks(self, function: str, limit: int) -> list[tuple[int, datetime, TickState]]:
        """(id, scheduled time, state) of ``function``'s latest scheduled ticks, latest
        first: the run grid's marks (as Airflow's, by the instant each run is for),
        without their attempts; read backwards on ticks by (function, scheduled_at)."""
        rows = self._connection.query(
            "SELECT id, scheduled_at, state FROM ticks WHERE function = ? "
            f"ORDER BY scheduled_at DESC, id DESC LIMIT {int(limit)}",
            (function,),
        )
        return [(row[0], parse_instant(row[1]), TickState(row[2])) for row in rows]

    def latest_instant(self, function: str, source: TickSource, now: datetime) -> datetime | None:
        """The latest instant up to ``now`` that ``function`` has a tick of ``source`` for
        (read backwards on ticks by (function, scheduled_at))."""
        rows = self._connection.query(
            "SELECT scheduled_at FROM ticks WHERE function = ? AND scheduled_at <= ? "
            "AND source = ? ORDER BY scheduled_at DESC LIMIT 1",
            (function, format_instant(now), source.value),
        )
        return parse_instant(rows[0][0]) if rows else None

    def tick(self, tick_id: int) -> Tick | None:
        rows = self._connection.query(f"SELECT {TICK_COLUMNS} FROM ticks WHERE id = ?", (tick_id,))
        return tick_from_row(rows[0]) if rows else None

    def tick_at(self, function: str, scheduled_at: datetime) -> Tick | None:
        """The first run recorded for ``function`` at ``scheduled_at``: the one whose post
        an Idempotency-Key ``<function>/<instant>`` most likely stored (an invocation of
        a scheduled instant and its scheduled tick share the key)."""
        rows = self._connection.query(
            f"SELECT {TICK_COLUMNS} FROM ticks WHERE function = ? AND scheduled_at = ? "
            "ORDER BY id LIMIT 1",
            (function, format_instant(scheduled_at)),
        )
        return tick_from_row(rows[0]) if rows else None

    def attempts(self, tick_id: int) -> list[Attempt]:
        rows = self._connection.query(
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE tick_id = ? ORDER BY number",
            (tick_id,),
        )
        return [attempt_of(row) for row in rows]

    def last_runs(self, functions: Iterable[str]) -> dict[str, Run]:
        """Each named function's most recently scheduled tick that was not skipped.

        One indexed probe per function (ticks by (function, scheduled_at), read
        backwards), so the cost does not grow with the ledger.
        """
        ticks = []
        for function in functions:
            rows = self._connection.query(
                f"SELECT {TICK_COLUMNS} FROM ticks WHERE function = ? AND state != ? "
                "ORDER BY scheduled_at DESC, id DESC LIMIT 1",
                (function, TickState.SKIPPED.value),
            )
            ticks += [tick_from_row(row) for row in rows]
        last = self._last_attempts([tick.id for tick in ticks])
        return {tick.function: Run(tick, last.get(tick.id)) for tick in ticks}

    def dead_counts(self) -> dict[str, int]:
        rows = self._connection.query(
            "SELECT function, count(*) FROM ticks WHERE state = ? GROUP BY function",
            (TickState.DEAD.value,),
        )
        return {row[0]: row[1] for row in rows}

    def function_marks(self) -> list[FunctionMark]:
        """The functions the ledger has seen, for browsing without the project."""
        rows = self._connection.query(
            "SELECT name, expression, anchor, scheduled_through FROM functions ORDER BY name"
        )
        return [
            FunctionMark(row[0], row[1], parse_instant(row[2]), parse_instant(row[3]))
            for row in rows
        ]

    def purge(self, tick_ids: Iterable[int], now: datetime) -> list[int]:
        """Discard dead letters (state ``purged``; the history stays); returns those purged."""
        stamp = format_instant(now)
        purged = []
        with self._connection.transaction() as db:
            for tick_id in tick_ids:
                cursor = db.execute(
                    "UPDATE ticks SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                    (TickState.PURGED.value, stamp, tick_id, TickState.DEAD.value),
                )
                if cursor.rowcount:
                    purged.append(tick_id)
        return purged
