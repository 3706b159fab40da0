"""A second connection to a ledger file, for readers and small writers beside the store.

The console reads the ledger while the runtime writes it, and ``pause`` may
write it from another process: each gets its own connection (WAL lets readers
see committed rows without blocking the writer), migrated like the store's.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from localbridge.ledger.schema import migrate


class LedgerConnection:
    """One thread-safe SQLite connection to a ledger file, migrated on open."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self.lock = threading.Lock()
        with self.transaction() as db:
            migrate(db, path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

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
