"""The ledger's SQLite schema, and the migrations that bring a file up to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Each entry migrates the schema from version i to i + 1 (PRAGMA user_version).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE ticks (
        id INTEGER PRIMARY KEY,
        function TEXT NOT NULL,
        scheduled_at TEXT NOT NULL,
        state TEXT NOT NULL,
        source TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        enqueued_at TEXT NOT NULL,
        event TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (function, scheduled_at)
    );
    CREATE INDEX ticks_by_state ON ticks (state, function);
    CREATE TABLE attempts (
        tick_id INTEGER NOT NULL REFERENCES ticks (id),
        number INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        lateness_ms REAL NOT NULL,
        duration_ms REAL,
        outcome TEXT,
        error_type TEXT,
        error_message TEXT,
        traceback TEXT,
        payload TEXT,
        payload_truncated INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tick_id, number)
    );
    CREATE TABLE functions (
        name TEXT PRIMARY KEY,
        expression TEXT NOT NULL,
        anchor TEXT NOT NULL,
        scheduled_through TEXT NOT NULL
    );
    """,
    # Pause and resume (EventBridge's disable-rule/enable-rule), and what each
    # attempt printed, for the console's run page.
    """
    CREATE TABLE paused (
        function TEXT PRIMARY KEY,
        paused_at TEXT NOT NULL
    );
    ALTER TABLE attempts ADD COLUMN logs TEXT;
    """,
    # A delivery keeps its identity across attempts: the scheduled event's
    # "id" and the function's aws_request_id are chosen once, with the tick.
    """
    ALTER TABLE ticks ADD COLUMN request_id TEXT;
    ALTER TABLE ticks ADD COLUMN event_id TEXT;
    """,
    # Owners, so a start recovers only the attempts of processes that are gone.
    """
    ALTER TABLE attempts ADD COLUMN owner TEXT;
    CREATE TABLE owners (
        token TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        process_start TEXT NOT NULL,
        drives INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        lease_until TEXT NOT NULL
    );
    """,
    # Reads whose cost does not grow with the ledger: pages of runs newest
    # first by id (the rowid: keyset paging with ``id < ?``, no OFFSET), of
    # one function's runs, of the dead letters (state), and by scheduled time
    # (``runs``' order, and pruning's range). Attempts by tick are served by
    # their primary key (tick_id, number).
    """
    CREATE INDEX ticks_by_function_id ON ticks (function, id);
    CREATE INDEX ticks_by_state_id ON ticks (state, id);
    CREATE INDEX ticks_by_scheduled ON ticks (scheduled_at, id)
    """,
    # An invocation (``invoke``, the Invoke API) never takes a scheduled
    # instant's place, as in AWS: the scheduled tick at that instant still
    # fires. ``invoked`` sets invocations apart, and (function, instant) is
    # unique within each of the two. SQLite cannot drop a table's UNIQUE
    # constraint, so the table is rebuilt (ids kept: attempts refer to them).
    """
    CREATE TABLE ticks_new (
        id INTEGER PRIMARY KEY,
        function TEXT NOT NULL,
        scheduled_at TEXT NOT NULL,
        state TEXT NOT NULL,
        source TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        enqueued_at TEXT NOT NULL,
        event TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        request_id TEXT,
        event_id TEXT,
        invoked INTEGER NOT NULL DEFAULT 0,
        UNIQUE (function, scheduled_at, invoked)
    );
    INSERT INTO ticks_new (id, function, scheduled_at, state, source, attempts, failures,
        next_attempt_at, enqueued_at, event, created_at, updated_at, request_id, event_id,
        invoked)
    SELECT id, function, scheduled_at, state, source, attempts, failures, next_attempt_at,
        enqueued_at, event, created_at, updated_at, request_id, event_id,
        source IN ('invoke', 'event')
    FROM ticks;
    DROP TABLE ticks;
    ALTER TABLE ticks_new RENAME TO ticks;
    CREATE INDEX ticks_by_state ON ticks (state, function);
    CREATE INDEX ticks_by_function_id ON ticks (function, id);
    CREATE INDEX ticks_by_state_id ON ticks (state, id);
    CREATE INDEX ticks_by_scheduled ON ticks (scheduled_at, id)
    """,
    # What pruning removed, per function: the first and last scheduled instant
    # of the scheduled ticks it deleted. An instant in that span that has no
    # row was handled and pruned: ``run``, catch-up and ``replay`` never run it
    # again (invocations hold no scheduled instant and never move it).
    """
    CREATE TABLE pruned (
        function TEXT PRIMARY KEY,
        first TEXT NOT NULL,
        through TEXT NOT NULL
    )
    """,
)


class LedgerError(Exception):
    """The ledger file cannot be used; the message says why and what to do."""


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring ``db`` (the ledger at ``path``) to the latest schema; call inside a transaction."""
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    if version == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise LedgerError(
            f"{path} is an SQLite database but not a localbridge ledger; "
            "pass --ledger with another path"
        )
    if version > len(MIGRATIONS):
        raise LedgerError(
            f"{path} has ledger schema {version}, newer than this localbridge "
            f"knows ({len(MIGRATIONS)}); upgrade localbridge or use another --ledger"
        )
    for number in range(version, len(MIGRATIONS)):
        for statement in MIGRATIONS[number].split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
