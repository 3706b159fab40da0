"""A second connection to a ledger file, for readers and small writers beside the store.

The console reads the ledger while the runtime writes it, and ``pause`` may
write it from another process: each gets its own connection (WAL lets readers
see committed rows without blocking the writer), migrated like the store's.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import AbstractContextManager
from pathlib import Path

from localbridge.ledger.locking import LockWait, immediate_transaction
from localbridge.ledger.opening import check_intact, connect

__all__ = ["LedgerConnection", "immediate_transaction"]


class LedgerConnection:
    """One thread-safe SQLite connection to a ledger file, migrated on open."""

    def __init__(self, path: Path, check: bool = False) -> None:
        """``check``: name the file damaged now if it is (``opening.check_intact``)."""
        self.path = path
        self._db = connect(path)  # LedgerError, with what to do, when it cannot be used
        self.lock = threading.Lock()
        self.lock_wait = LockWait()
        if check:
            try:
                check_intact(self._db, path)
            except BaseException:
                self._db.close()
                raise

    @property
    def raw(self) -> sqlite3.Connection:
        """The connection itself, for statements no transaction may hold (hold ``lock``)."""
        return self._db

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self.lock, self.lock_wait)

    def query(self, sql: str, params: tuple[object, ...] | list[object] = ()) -> list[sqlite3.Row]:
        with self.lock:
            rows: list[sqlite3.Row] = self._db.execute(sql, params).fetchall()
            return rows

    def data_version(self) -> int:
        """Changes whenever another connection commits to the file (SQLite's data_version)."""
        with self.lock:
            version: int = self._db.execute("PRAGMA data_version").fetchone()[0]
            return version

    def close(self) -> None:
        """Close the connection; a write waiting for the lock meanwhile gives up first."""
        self.lock_wait.give_up()
        with self.lock:
            self._db.close()
