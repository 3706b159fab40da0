"""The run ledger: every tick and every attempt, durably, in SQLite (WAL).

A tick is one (function, scheduled instant) to deliver; the pair is unique, so
nothing scheduled is ever recorded - and so run - twice. Invocations (``invoke``,
the Invoke API) are ticks of their own, unique per (function, instant) among
themselves: one never takes a scheduled instant's place. Each attempt to run a
tick is its own row. A tick is committed before its function starts and the
attempt's outcome after it ends (``runs``), so a crash at any moment leaves a
row to recover from (see ``recover_interrupted``).

Instants are stored as fixed-width ISO-8601 UTC text, which sorts as time does.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Self

from localbridge.instants import format_instant, parse_instant
from localbridge.ledger.checkpoints import checkpoints_aside
from localbridge.ledger.opening import check_intact, connect
from localbridge.ledger.owners import (
    LeaseKeeper,
    Owner,
    claim,
    live_owners,
    recover_orphaned,
    renew,
    this_process,
)
from localbridge.ledger.pruning import PrunedSpans, pruned_spans
from localbridge.ledger.rows import TICK_COLUMNS, tick_from_row
from localbridge.ledger.runs import RunWrites, upsert_marks
from localbridge.ticks import (
    FunctionMark,
    Tick,
    TickSource,
    TickState,
)

DEFAULT_LEDGER = Path("data/localbridge.db")


class Ledger(RunWrites):
    """Thread-safe access to one ledger file. Open with ``Ledger.open(path)``.

    Its reads are ``queries``', its writes of runs ``runs``'; here: owners,
    functions' marks, and what people do to ticks (reopen, purge).
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        super().__init__(connection, threading.Lock())
        self.path = path
        self._lease: LeaseKeeper | None = None

    @classmethod
    def open(cls, path: Path, check: bool = False) -> Self:
        """The ledger at ``path``, created or migrated; ``LedgerError`` when it cannot be.

        ``check``: name the file damaged now if it is (``opening.check_intact``),
        for the commands that only read it.
        """
        db = connect(path)
        if check:
            try:
                check_intact(db, path)
            except BaseException:
                db.close()
                raise
        return cls(db, path)

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

    def pruned_spans(self) -> PrunedSpans:
        """Per function, the scheduled instants pruning removed (``ledger.pruning``)."""
        with self._lock:
            return pruned_spans(self._db)

    def scheduled_instants(
        self, function: str, after: datetime, through: datetime
    ) -> set[datetime]:
        """The scheduled instants of ``function`` in (after, through] that have a row."""
        with self._lock:
            rows = self._db.execute(
                "SELECT scheduled_at FROM ticks WHERE function = ? AND scheduled_at > ? "
                "AND scheduled_at <= ? AND NOT invoked",
                (function, format_instant(after), format_instant(through)),
            ).fetchall()
        return {parse_instant(row[0]) for row in rows}

    def save_function_marks(self, marks: Iterable[FunctionMark]) -> None:
        with self._transaction() as db:
            upsert_marks(db, marks)

    # -- ticks -------------------------------------------------------------

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

    def checkpoints_aside(self) -> AbstractContextManager[None]:
        """Within this, a thread of its own checkpoints, not the commits (``checkpoints``)."""
        return checkpoints_aside(self.path, self._db, self._lock)

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
