"""A second connection to a ledger file, for readers and small writers beside the store.

The console reads the ledger while the runtime writes it, and ``pause`` may
write it from another process: each gets its own connection (WAL lets readers
see committed rows without blocking the writer), migrated like the store's.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from localbridge.ledger.opening import check_intact, connect


@contextmanager
def immediate_transaction(
    db: sqlite3.Connection, lock: threading.Lock
) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``), rolled back on any error."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


class LedgerConnection:
    """One thread-safe SQLite connection to a ledger file, migrated on open."""

    def __init__(self, path: Path, check: bool = False) -> None:
        """``check``: name the file damaged now if it is (``opening.check_intact``)."""
        self.path = path
        self._db = connect(path)  # LedgerError, with what to do, when it cannot be used
        self.lock = threading.Lock()
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
        return immediate_transaction(self._db, self.lock)

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
        with self.lock:
            self._db.close()
