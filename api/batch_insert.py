"""Storing a batch of results with a handful of statements, whatever its size.

Each statement a writer runs gives up the GIL and takes it back, waiting on
the busy event loop when it is not the loop's own thread: a commit of ten posts
as two statements each took seven times its own cost. So a batch is stored
with one query for the keys it repeats, one for the next id, and one multi-row
INSERT per 64 rows. The caller holds the write lock (``BEGIN IMMEDIATE``), so
the keys found and the ids chosen stay true until its commit, across processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from api.records import COLUMNS, Added, NewResult, StoredResult

# Rows per INSERT statement (6 values each, far below SQLite's 32,766 variables);
# one statement text per row count, kept in the connection's statement cache.
ROWS_PER_INSERT = 64


def _insert_statement(rows: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO result (id, received_at, idempotency_key, body_digest, metric, body)"
        f" VALUES {values}"
    )


def _flat(rows: Sequence[tuple[object, ...]]) -> list[object]:
    return [value for row in rows for value in row]


def insert_batch(conn: sqlite3.Connection, batch: Sequence[NewResult]) -> list[Added]:
    """Store each of ``batch`` unless its key is taken (inside the caller's transaction)."""
    known = _stored_under(conn, [new.idempotency_key for new in batch])
    next_id = _next_id(conn)
    added: list[Added] = []
    rows: list[tuple[object, ...]] = []
    for new in batch:
        key = new.idempotency_key
        if key is not None and key in known:
            added.append(known[key])
            continue
        stored = StoredResult(next_id, new.received_at, key, new.body)
        added.append(Added(stored, new.body_digest, created=True))
        if key is not None:  # a second post of the key in this batch finds this one
            known[key] = Added(stored, new.body_digest, created=False)
        rows.append((next_id, new.received_at, key, new.body_digest, new.metric, new.body))
        next_id += 1
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start : start + ROWS_PER_INSERT]
        conn.execute(_insert_statement(len(chunk)), _flat(chunk))
    return added


def _stored_under(conn: sqlite3.Connection, keys: Iterable[str | None]) -> dict[str, Added]:
    """The stored results under any of ``keys``, by key (usually none)."""
    wanted = list({key for key in keys if key is not None})
    found: dict[str, Added] = {}
    for start in range(0, len(wanted), ROWS_PER_INSERT):
        chunk = wanted[start : start + ROWS_PER_INSERT]
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT {COLUMNS}, body_digest FROM result WHERE idempotency_key IN ({marks})"
        for row in conn.execute(query, chunk):
            found[row[2]] = Added(StoredResult(*row[:4]), row[4], created=False)
    return found


def _next_id(conn: sqlite3.Connection) -> int:
    # AUTOINCREMENT's rule: past every id ever given, deleted ones included.
    row = conn.execute(
        "SELECT max(coalesce((SELECT max(id) FROM result), 0),"
        " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'result'), 0)) + 1"
    ).fetchone()
    return int(row[0])
