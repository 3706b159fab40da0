"""Pruning: finished runs older than an instant leave the ledger, and their space the disk.

What goes: ticks scheduled before the instant that are finished (succeeded,
failed, skipped, purged), with their attempts and logs. What stays: anything
still to run, dead letters (until a person purges them), and a scheduled
instant's tick past its function's mark (``functions.scheduled_through``, how
far the schedule fired): a replay ahead of the schedule, which keeps ``run``
from firing that instant again once its schedule gets there. An invocation's
tick never holds a scheduled instant, so it goes like any other.

Deletes go in small batches, each its own short transaction, so a live ``run``
writing beside them waits milliseconds at most; the freed pages are handed back
to the filesystem a few at a time (``PRAGMA incremental_vacuum``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from localbridge.instants import format_instant
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


def prune(
    connection: LedgerConnection,
    before: datetime,
    should_stop: Callable[[], bool] = lambda: False,
) -> Pruned:
    """Remove the finished runs scheduled before ``before``; give the space back."""
    size_before = size_of(connection).bytes
    runs = attempts = 0
    stamp = format_instant(before)
    while not should_stop():
        removed, removed_attempts = _prune_batch(connection, stamp)
        runs, attempts = runs + removed, attempts + removed_attempts
        if removed < BATCH:
            break
    give_back_space(connection, should_stop)
    return Pruned(runs, attempts, size_before, size_of(connection).bytes)


def _prune_batch(connection: LedgerConnection, stamp: str) -> tuple[int, int]:
    with connection.transaction() as db:
        ids = [
            row[0]
            for row in db.execute(
                f"SELECT id FROM ticks WHERE {_PRUNABLE} ORDER BY scheduled_at LIMIT {BATCH}",
                (stamp,),
            )
        ]
        if not ids:
            return 0, 0
        marks = ", ".join("?" for _ in ids)
        attempts = db.execute(f"DELETE FROM attempts WHERE tick_id IN ({marks})", ids).rowcount
        db.execute(f"DELETE FROM ticks WHERE id IN ({marks})", ids)
    return len(ids), attempts


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
