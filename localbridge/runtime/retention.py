"""Retention: ``run`` prunes the runs older than the stage's ``retention_days`` as its clock moves.

A service beside the runtime (``Service[Runtime]``), not a step of its loop: a
thread of its own checks the runtime's clock (real or virtual), and once the
cut-off (now - retention) has moved on by ``PRUNE_EVERY`` of clock time, it
prunes up to it through a connection of its own (``ledger.pruning``: small
batches, space handed back step by step), so firing never waits on it for
more than a batch. Runs written in the last ``grace`` of wall time stay
(``runtime.grace``): a replay beside the run keeps its runs and its report.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path

from localbridge.abc import Clock
from localbridge.instants import display_instant
from localbridge.ledger.connect import LedgerConnection
from localbridge.ledger.opening import LedgerError, describe
from localbridge.ledger.pruning import any_spared, prune
from localbridge.runtime.grace import GRACE, RecentRows
from localbridge.runtime.loop import Runtime

log = logging.getLogger("localbridge")

PRUNE_EVERY = timedelta(hours=1)
"""Clock time between prunes: the ledger holds at most the retention plus this."""
CHECK_EVERY_S = 1.0
"""Real seconds between looks at the clock (a fast virtual clock moves hours in one)."""


class Retention:
    """Prunes the finished runs scheduled more than ``keep`` before the runtime's now."""

    def __init__(
        self,
        keep: timedelta,
        check_every_s: float = CHECK_EVERY_S,
        recent: RecentRows | None = None,
    ) -> None:
        self.keep = keep
        self._check_every_s = check_every_s
        self._recent = RecentRows(GRACE) if recent is None else recent
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: LedgerConnection | None = None
        self._pruned_through: datetime | None = None
        self._spared_above: int | None = None

    def start(self, runtime: Runtime) -> None:
        # On a fault the runtime stops; a prune waiting for a lock must not hold it.
        runtime.faults.on_fault(self._give_up)
        self._thread = threading.Thread(
            target=self._run,
            args=(runtime.ledger.path, runtime.clock),
            name="localbridge-retention",
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        """Stop pruning: a batch waiting for the lock gives up within a slice of it."""
        self._give_up()
        if self._thread is not None:
            self._thread.join()

    def _give_up(self) -> None:
        self._stop.set()
        connection = self._connection
        if connection is not None:
            connection.lock_wait.give_up()

    def _run(self, path: Path, clock: Clock) -> None:
        # Opened here, not in ``start``: the command's thread never waits on the ledger for it.
        try:
            connection = self._connection = LedgerConnection(path)
        except LedgerError as error:
            log.warning(f"retention: nothing is pruned: {error}")
            return
        try:
            while not self._stop.is_set():
                self._prune_if_due(connection, clock.now() - self.keep)
                self._stop.wait(self._check_every_s)
        finally:
            connection.close()

    def _prune_if_due(self, connection: LedgerConnection, cutoff: datetime) -> None:
        last = self._pruned_through
        try:
            bound = self._recent.bound(connection)
            # Due as the clock moves on, or as the runs spared last time age past the grace.
            aged = self._spared_above is not None and bound != self._spared_above
            if bound is None or not (last is None or cutoff - last >= PRUNE_EVERY or aged):
                return
            pruned = prune(connection, cutoff, self._stop.is_set, spare_above=bound)
            spared = any_spared(connection, cutoff, bound)
            self._spared_above = bound if spared else None
        except sqlite3.Error as error:
            # Pruning waits for its next turn; writing the ledger is the
            # runtime's to fail on, and it says so itself.
            if self._stop.is_set():
                return  # given up on the way out: nothing to tell
            log.warning(f"retention: pruning failed: {describe(connection.path, error)}")
            return
        self._pruned_through = cutoff
        if pruned.runs:
            log.info(
                f"retention: pruned {pruned.runs} run(s) scheduled before {display_instant(cutoff)}"
            )
