"""SQLite storage of results: one file in WAL mode, its schema migrated in code at open.

One writer connection behind a lock; each read takes an idle connection of its
own, so reads wait on nothing. SQLite's failures leave as ``StoreError`` (503).
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from api.batch_insert import ROWS_PER_INSERT, insert_each, insert_new
from api.records import COLUMNS, Added, NewResult, StoredResult

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
    # AUTOINCREMENT: once results can be deleted, a plain INTEGER PRIMARY KEY
    # would give the id of a deleted newest result to the next post, and a
    # client holding that id would read another result under it.
    (
        """
        CREATE TABLE result_v2 (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            received_at TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            body_digest TEXT NOT NULL,
            metric TEXT,
            body TEXT NOT NULL
        )
        """,
        "INSERT INTO result_v2 SELECT * FROM result",
        "DROP TABLE result",
        "ALTER TABLE result_v2 RENAME TO result",
        "CREATE INDEX result_by_metric ON result (metric, id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
# What the migrations above produce; a file claiming their version must have it.
EXPECTED_COLUMNS = ("id", "received_at", "idempotency_key", "body_digest", "metric", "body")
BUSY_TIMEOUT_MS = 5000
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # what the WAL is cut back to when it starts over
CHECKPOINT_WAIT_MS = 100


class StoreError(RuntimeError):
    """The store cannot be opened or used as it is; the message says why."""


@dataclass(frozen=True)
class Filter:
    """A page's results: one metric, ``received_at`` in [since, until) (compared as text)."""

    metric: str | None = None
    since: str | None = None
    until: str | None = None

    def where(self, after_id: int) -> tuple[str, list[object]]:
        conditions = (
            ("id > ?", after_id),
            ("metric = ?", self.metric),
            ("received_at >= ?", self.since),
            ("received_at < ?", self.until),
        )
        used = [(clause, value) for clause, value in conditions if value is not None]
        return " AND ".join(clause for clause, _ in used), [value for _, value in used]


@dataclass(frozen=True)
class StoreState:
    path: str
    results: int
    schema_version: int
    journal_mode: str


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: a statement commits on its own unless a transaction is opened.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _configure_writer(writer: sqlite3.Connection, path: Path) -> sqlite3.Connection:
    mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        raise StoreError(f"{path} cannot use WAL journaling (got {mode!r})")
    # With WAL, NORMAL writes each commit to the WAL before it returns: a killed
    # process loses nothing it acknowledged, a power loss the newest commits.
    writer.execute("PRAGMA synchronous = NORMAL")
    # SQLite writes the WAL over from its start once a checkpoint copied all of
    # it, but never shrinks the file: this bounds what stays on disk.
    writer.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    return writer


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION; refuse a newer file, or one unlike its version."""
    with conn:  # one transaction: committed at the end, rolled back on any error
        conn.execute("BEGIN IMMEDIATE")
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
    columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(result)"))
    if columns != EXPECTED_COLUMNS:
        found = ", ".join(columns) if columns else "no result table"
        raise StoreError(
            f"{path} is at schema version {SCHEMA_VERSION} but holds {found} instead of the"
            f" result table ({', '.join(EXPECTED_COLUMNS)}); point RESULTS_DB at another file"
        )


class ResultStore:
    """The results table behind one writer connection and a pool of readers."""

    def __init__(self, path: Path, writer: sqlite3.Connection):
        self.path = path
        self._writer = writer
        self._write_lock = threading.Lock()
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._readers: list[sqlite3.Connection] = []  # every one, to close them

    @classmethod
    def open(cls, path: Path) -> ResultStore:
        """Open (creating when absent) the store at ``path`` and migrate its schema."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = _connect(path)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open results database {path}: {error}") from error
        try:
            migrate(_configure_writer(writer, path), path)
        except BaseException as error:
            writer.close()
            if isinstance(error, sqlite3.Error):
                raise StoreError(f"cannot use results database {path}: {error}") from error
            raise
        return cls(path, writer)

    def verify(self) -> None:
        """Read every page (``PRAGMA quick_check``): a damaged file is refused, not served."""
        with self._reader() as reader:
            problems = [row[0] for row in reader.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            detail = " ".join(" ".join(problems).split())[:200]  # one line, whatever SQLite says
            raise StoreError(
                f"results database {self.path} is damaged ({detail}); restore it"
                " from a backup or point RESULTS_DB at another file"
            )

    def close(self) -> None:
        with self._write_lock:
            for reader in self._readers:
                reader.close()
            self._writer.close()

    def add(self, new: NewResult) -> Added:
        """Store ``new`` unless its idempotency key is taken; then return the original."""
        return self.add_many([new])[0]

    def add_many(self, batch: Sequence[NewResult]) -> list[Added]:
        """``add`` for each of ``batch`` in order, committed together or not at all: whatever
        goes wrong rolls back, so no later post joins a transaction nobody commits."""
        with self._write_lock:
            try:
                one_statement = len(batch) <= ROWS_PER_INSERT  # what the writer sends
                added = insert_new(self._writer, batch) if one_statement else None
                if added is not None:
                    return added
                self._writer.execute("BEGIN IMMEDIATE")
                added = insert_each(self._writer, batch)
                self._writer.execute("COMMIT")
                return added
            except BaseException as error:
                self._roll_back()
                if isinstance(error, sqlite3.Error):
                    raise StoreError(f"cannot store results in {self.path}: {error}") from error
                raise

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it (when posts pause); False when
        a reader's snapshot still needs it."""
        with self._write_lock:
            try:
                self._writer.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
                busy: int = self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
                self._writer.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            except sqlite3.Error as error:
                raise StoreError(f"cannot checkpoint {self.path}: {error}") from error
        return busy == 0

    def _roll_back(self) -> None:
        try:
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")
        except sqlite3.Error:
            # A connection that cannot roll back is replaced, never reused.
            self._writer.close()
            self._writer = _configure_writer(_connect(self.path), self.path)

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """An idle read connection for the block; SQLite errors -> StoreError."""
        try:
            try:
                reader = self._idle.get_nowait()
            except queue.Empty:
                reader = _connect(self.path)
                self._readers.append(reader)
            try:
                yield reader
            finally:
                self._idle.put(reader)
        except sqlite3.Error as error:
            raise StoreError(f"cannot read results database {self.path}: {error}") from error

    def get(self, result_id: int) -> StoredResult | None:
        found = self.page(result_id - 1, 1)
        return found[0] if found and found[0].id == result_id else None

    def delete(self, result_id: int) -> bool:
        """Delete one result (its idempotency key goes with it); False when there is none."""
        with self._write_lock:
            try:
                # One statement outside a transaction: SQLite commits it on its own.
                deleted = self._writer.execute("DELETE FROM result WHERE id = ?", (result_id,))
                return deleted.rowcount == 1
            except sqlite3.Error as error:
                self._roll_back()
                raise StoreError(f"cannot delete from {self.path}: {error}") from error

    def page(
        self, after_id: int, limit: int, only: Filter | None = None, max_bytes: int | None = None
    ) -> list[StoredResult]:
        """Up to ``limit`` results after ``after_id`` passing ``only``, oldest first; with
        ``max_bytes``, ending with the one whose body brings them to that size."""
        where, params = (only or Filter()).where(after_id)
        found: list[StoredResult] = []
        size = 0
        with self._reader() as reader:
            query = f"SELECT {COLUMNS} FROM result WHERE {where} ORDER BY id LIMIT ?"
            cursor = reader.execute(query, (*params, limit))
            try:
                for row in cursor:
                    found.append(StoredResult(*row))
                    size += len(row[3])
                    if max_bytes is not None and size >= max_bytes:
                        break
            finally:
                cursor.close()  # ends the read transaction now, not when collected
        return found

    def count(self) -> int:
        with self._reader() as reader:
            count: int = reader.execute("SELECT count(*) FROM result").fetchone()[0]
        return count

    def state(self) -> StoreState:
        with self._reader() as reader:
            version: int = reader.execute("PRAGMA user_version").fetchone()[0]
            mode: str = reader.execute("PRAGMA journal_mode").fetchone()[0]
        return StoreState(str(self.path), self.count(), version, mode)
