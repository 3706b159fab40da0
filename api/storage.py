"""SQLite storage of results: one file, WAL, schema migrations applied in code at open.

Writes go through one writer connection and reads through one reader connection,
each behind its own lock: WAL lets the reader see committed rows while the writer
commits, and a single writer never waits on SQLite's file lock inside one process.
``add_many`` commits several results in one transaction: a commit costs far more
than an insert, so the API's writer (``api/writer.py``) groups concurrent posts.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Each entry moves the schema one version up; `PRAGMA user_version` records how
# many have been applied. Append new entries, never edit applied ones.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE result (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            body_digest TEXT NOT NULL,
            metric TEXT,
            body TEXT NOT NULL
        )
        """,
        "CREATE INDEX result_by_metric ON result (metric, id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
BUSY_TIMEOUT_MS = 5000
COLUMNS = "id, received_at, idempotency_key, body"


class StoreError(RuntimeError):
    """The store cannot be opened or used as it is; the message says why."""


@dataclass(frozen=True)
class StoredResult:
    """One stored row; ``body`` is the posted object as JSON text."""

    id: int
    received_at: str
    idempotency_key: str | None
    body: str


@dataclass(frozen=True)
class NewResult:
    """A result about to be stored; ``body_digest`` identifies its JSON value."""

    received_at: str
    idempotency_key: str | None
    body_digest: str
    metric: str | None
    body: str


@dataclass(frozen=True)
class Added:
    """What ``add`` did: stored ``result`` now (``created``) or found it under its key."""

    result: StoredResult
    body_digest: str
    created: bool


@dataclass(frozen=True)
class StoreState:
    path: str
    results: int
    schema_version: int
    journal_mode: str


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: each statement commits on its own unless a
    # transaction is opened explicitly (migrations do), so an INSERT is durable
    # in the WAL by the time it returns.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; refuse a file written by a newer version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"schema version {version} is newer than this API knows ({SCHEMA_VERSION}); "
                "upgrade the API or point RESULTS_DB at another file"
            )
        for number, statements in enumerate(MIGRATIONS[version:], start=version + 1):
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


class ResultStore:
    """The results table behind a writer and a reader connection."""

    def __init__(self, path: Path, writer: sqlite3.Connection, reader: sqlite3.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> ResultStore:
        """Open (creating when absent) the store at ``path`` and migrate its schema."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = _connect(path)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open results database {path}: {error}") from error
        try:
            mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{path} cannot use WAL journaling (got {mode!r})")
            # With WAL, NORMAL still writes each commit to the WAL before it
            # returns, so a killed process loses nothing it acknowledged; only a
            # power loss can drop the newest commits.
            writer.execute("PRAGMA synchronous = NORMAL")
            migrate(writer)
            reader = _connect(path)
        except sqlite3.Error as error:
            writer.close()
            raise StoreError(f"cannot use results database {path}: {error}") from error
        except BaseException:
            writer.close()
            raise
        return cls(path, writer, reader)

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._reader.close()
            self._writer.close()

    def add(self, new: NewResult) -> Added:
        """Store ``new`` unless its idempotency key is taken; then return the original."""
        return self.add_many([new])[0]

    def add_many(self, batch: Sequence[NewResult]) -> list[Added]:
        """``add`` for each of ``batch`` in order, committed together as one transaction."""
        with self._write_lock:
            try:
                if len(batch) == 1:  # one statement commits itself
                    return [self._insert(batch[0])]
                self._writer.execute("BEGIN IMMEDIATE")
                added = [self._insert(new) for new in batch]
                self._writer.execute("COMMIT")
                return added
            except sqlite3.Error as error:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                raise StoreError(f"cannot store results in {self.path}: {error}") from error

    def _insert(self, new: NewResult) -> Added:
        # One statement in the common case (a new key): the conflict clause
        # makes the key check part of the insert, also across processes.
        row = self._writer.execute(
            "INSERT INTO result (received_at, idempotency_key, body_digest, metric, body)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            (new.received_at, new.idempotency_key, new.body_digest, new.metric, new.body),
        ).fetchone()
        if row is None:
            assert new.idempotency_key is not None  # only a key can conflict
            found = self._find_key(new.idempotency_key)
            assert found is not None
            return found
        stored = StoredResult(row[0], new.received_at, new.idempotency_key, new.body)
        return Added(stored, new.body_digest, created=True)

    def _find_key(self, key: str) -> Added | None:
        row = self._writer.execute(
            f"SELECT {COLUMNS}, body_digest FROM result WHERE idempotency_key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return Added(StoredResult(*row[:4]), row[4], created=False)

    def get(self, result_id: int) -> StoredResult | None:
        with self._read_lock:
            row = self._reader.execute(
                f"SELECT {COLUMNS} FROM result WHERE id = ?", (result_id,)
            ).fetchone()
        return None if row is None else StoredResult(*row)

    def page(self, after_id: int, limit: int, metric: str | None) -> list[StoredResult]:
        """Up to ``limit`` results with id above ``after_id``, oldest first."""
        where = "id > ?"
        params: list[object] = [after_id]
        if metric is not None:
            where = "metric = ? AND id > ?"
            params = [metric, after_id]
        with self._read_lock:
            rows = self._reader.execute(
                f"SELECT {COLUMNS} FROM result WHERE {where} ORDER BY id LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [StoredResult(*row) for row in rows]

    def state(self) -> StoreState:
        with self._read_lock:
            count: int = self._reader.execute("SELECT count(*) FROM result").fetchone()[0]
            version: int = self._reader.execute("PRAGMA user_version").fetchone()[0]
            mode: str = self._reader.execute("PRAGMA journal_mode").fetchone()[0]
        return StoreState(str(self.path), count, version, mode)
