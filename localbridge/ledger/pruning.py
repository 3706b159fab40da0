"""Pruning: finished runs older than an instant leave the ledger, and their space the disk.

What goes: ticks scheduled before the instant that are finished (succeeded,
failed, skipped, purged), with their attempts and logs. What stays: anything
still to run, dead letters (until a person purges them), and a scheduled
instant's tick past its function's mark (``functions.scheduled_through``, how
far the schedule fired): a replay ahead of the schedule, which keeps ``run``
from firing that instant again once its schedule gets there. An invocation's
tick never holds a scheduled instant, so it goes like any other.

What went is remembered per function (the ``pruned`` table: the first and last
scheduled instant of the scheduled ticks removed, ``pruned_spans``): an instant
in that span without a row was handled, and ``run``, catch-up and ``replay``
never run it again. Invocations never move it. ``spare_above`` keeps the ticks
recorded after a given id (``runtime.retention``: those of the last moments).

Deletes go in small batches, each its own short transaction, so a live ``run``
writing beside them waits milliseconds at most; the freed pages are handed back
to the filesystem a few at a time (``PRAGMA incremental_vacuum``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from localbridge.instants import format_instant, parse_instant
from localbridge.ledger.connect import LedgerConnection
from localbridge.ticks import TickState

PRUNABLE_STATES = (
    TickState.SUCCEEDED,
    TickState.FAILED,
    TickState.SKIPPED,
    TickState.PURGED,
)
BATCH = 500
"""Ticks deleted per transaction: a few milliseconds of the write lock each."""
VACUUM_STEP = 256
"""Pages handed back per incremental vacuum step (1 MiB of 4 KiB pages): a short lock each."""

_STATES = ", ".join(f"'{state.value}'" for state in PRUNABLE_STATES)
# ``+state``: the state is checked row by row, never looked up in its index, so
# the range scan of ``ticks_by_scheduled`` is the plan (the state index would
# sort every finished run before the first batch).
_PRUNABLE = (
    f"scheduled_at < ? AND +state IN ({_STATES}) AND (invoked OR NOT EXISTS (SELECT 1 "
    "FROM functions AS f WHERE f.name = ticks.function AND f.scheduled_through < "
    "ticks.scheduled_at))"
)


@dataclass(frozen=True)
class Pruned:
    """What one prune removed, and the file's size before and after."""

    runs: int
    attempts: int
    bytes_before: int
    bytes_after: int


@dataclass(frozen=True)
class LedgerSize:
    """The ledger file's pages: in use, free (reusable), and the size on disk."""

    page_size: int
    pages: int
    free_pages: int
    incremental: bool
    """Whether freed pages can be handed back without a full VACUUM."""

    @property
    def bytes(self) -> int:
        return self.page_size * self.pages


def size_of(connection: LedgerConnection) -> LedgerSize:
    [[page_size]] = connection.query("PRAGMA page_size")
    [[pages]] = connection.query("PRAGMA page_count")
    [[free]] = connection.query("PRAGMA freelist_count")
    [[mode]] = connection.query("PRAGMA auto_vacuum")
    return LedgerSize(page_size, pages, free, mode == 2)


def count_prunable(connection: LedgerConnection, before: datetime) -> int:
    """How many runs ``prune(before)`` would remove (through the scheduled-time index)."""
    [[count]] = connection.query(
        f"SELECT count(*) FROM ticks WHERE {_PRUNABLE}", (format_instant(before),)
    )
    return int(count)


PrunedSpans = dict[str, tuple[datetime, datetime]]
"""Per function, the first and last scheduled instant pruning removed."""


def any_spared(connection: LedgerConnection, before: datetime, spare_above: int) -> bool:
    """Whether ``prune(before, spare_above=...)`` left any run only for its id."""
    rows = connection.query(
        f"SELECT 1 FROM ticks WHERE {_PRUNABLE} AND id > ? LIMIT 1",
        (format_instant(before), spare_above),
    )
    return bool(rows)


def prune(
    connection: LedgerConnection,
    before: datetime,
    should_stop: Callable[[], bool] = lambda: False,
    spare_above: int | None = None,
) -> Pruned:
    """Remove the finished runs scheduled before ``before`` (and, with ``spare_above``,
    recorded with an id at most that); give the space back."""
    size_before = size_of(connection).bytes
    runs = attempts = 0
    stamp = format_instant(before)
    while not should_stop():
        removed, removed_attempts = _prune_batch(connection, stamp, spare_above)
        runs, attempts = runs + removed, attempts + removed_attempts
        if removed < BATCH:
            break
    give_back_space(connection, should_stop)
    return Pruned(runs, attempts, size_before, size_of(connection).bytes)


def _prune_batch(
    connection: LedgerConnection, stamp: str, spare_above: int | None
) -> tuple[int, int]:
    spared = "" if spare_above is None else f" AND id <= {int(spare_above)}"
    with connection.transaction() as db:
        rows = db.execute(
            f"SELECT id, function, scheduled_at, invoked FROM ticks WHERE {_PRUNABLE}{spared} "
            f"ORDER BY scheduled_at LIMIT {BATCH}",
            (stamp,),
        ).fetchall()
        if not rows:
            return 0, 0
        ids = [row[0] for row in rows]
        marks = ", ".join("?" for _ in ids)
        attempts = db.execute(f"DELETE FROM attempts WHERE tick_id IN ({marks})", ids).rowcount
        db.execute(f"DELETE FROM ticks WHERE id IN ({marks})", ids)
        remember(db, [(row[1], row[2]) for row in rows if not row[3]])
    return len(ids), attempts


def remember(db: sqlite3.Connection, removed: Sequence[tuple[str, str]]) -> None:
    """Widen each function's pruned span to the scheduled instants in ``removed``
    ((function, instant text)); in the transaction that deleted them."""
    spans: dict[str, tuple[str, str]] = {}
    for function, instant in removed:
        first, through = spans.get(function, (instant, instant))
        spans[function] = (min(first, instant), max(through, instant))
    db.executemany(
        "INSERT INTO pruned (function, first, through) VALUES (?, ?, ?) "
        "ON CONFLICT (function) DO UPDATE SET first = min(first, excluded.first), "
        "through = max(through, excluded.through)",
        [(function, first, through) for function, (first, through) in spans.items()],
    )


def pruned_spans(db: sqlite3.Connection) -> PrunedSpans:
    """Per function, the span of scheduled instants pruning removed (``remember``)."""
    rows = db.execute("SELECT function, first, through FROM pruned").fetchall()
    return {row[0]: (parse_instant(row[1]), parse_instant(row[2])) for row in rows}


def in_span(spans: PrunedSpans, function: str, instant: datetime) -> bool:
    """Whether ``instant`` of ``function`` lies in its pruned span (handled if it has no row)."""
    span = spans.get(function)
    return span is not None and span[0] <= instant <= span[1]


def give_back_space(
    connection: LedgerConnection, should_stop: Callable[[], bool] = lambda: False
) -> None:
    """Hand free pages back to the filesystem, a step at a time (incremental files only)."""
    if not size_of(connection).incremental:
        return
    while not should_stop() and size_of(connection).free_pages:
        with connection.transaction() as db:
            db.execute(f"PRAGMA incremental_vacuum({VACUUM_STEP})").fetchall()


def vacuum(connection: LedgerConnection) -> None:
    """Rewrite the whole file, compact and incremental from then on (blocks writers meanwhile).

    For a ledger made before incremental vacuum: its freed pages are reused,
    but only this gives them back to the filesystem.
    """
    with connection.lock:
        db = connection.raw
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("VACUUM")
    checkpoint(connection)


def checkpoint(connection: LedgerConnection) -> None:
    """Copy the log into the file and empty it, so the file's size is what is on disk."""
    connection.query("PRAGMA wal_checkpoint(TRUNCATE)")
