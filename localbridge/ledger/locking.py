"""How a write waits for another connection's lock on the ledger, and gives up.

SQLite's own wait for a lock (``busy_timeout``) cannot be cut short: not by
``interrupt``, not by a new ``busy_timeout``, which waits for the connection
the waiting thread holds. A process that stops on a fault must not sit in
such waits for their whole timeout, one after the other (the settler's last
outcomes, the lease, the close): so a write waits in short slices and looks
between them whether its connection was told to give up (``LockWait``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

LOCK_TIMEOUT_S = 30.0
"""How long a write waits for another connection's lock before it fails."""
LOCK_SLICE_MS = 100
"""SQLite's own wait for a lock on an open ledger connection (its ``busy_timeout``).
A write's ``BEGIN`` tries again slice after slice up to ``LOCK_TIMEOUT_S``; a
read in WAL mode meets a lock only in passing (another connection cleaning
up the log), for far less than a slice."""
OPEN_WAIT_MS = int(LOCK_TIMEOUT_S * 1000)
"""SQLite's wait while a connection opens: the first reader after a crash
recovers the log, which others wait for."""


def is_locked(error: sqlite3.Error) -> bool:
    """Whether ``error`` is SQLite's "database is locked" (SQLITE_BUSY and its kinds)."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


class LockWait:
    """How a connection's writes wait for the lock: up to ``timeout_s``, or one slice
    once ``give_up`` was called (the process is stopping: a lock that clears in
    that slice still takes the write, one that does not fails it at once)."""

    def __init__(self, timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._given_up = threading.Event()

    def give_up(self) -> None:
        """From now on, and in the writes waiting now, try once more at most (thread-safe)."""
        self._given_up.set()

    @property
    def given_up(self) -> bool:
        return self._given_up.is_set()

    def begin(self, db: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE`` on ``db`` (whose ``busy_timeout`` is a slice), waiting for
        another connection's lock as set."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not is_locked(error) or self.given_up or time.monotonic() >= deadline:
                    raise


@contextmanager
def immediate_transaction(
    db: sqlite3.Connection, lock: threading.Lock, wait: LockWait | None = None
) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``, waiting for the
    lock as ``wait`` says), rolled back on any error."""
    with lock:
        (wait or LockWait()).begin(db)
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
