"""Storing a batch of results in as few SQLite statements as it takes.

The writer thread gives up the GIL around each SQLite call and must take it
back from the busy event loop afterwards, so a commit costs a wait per
statement. Usually no key of the batch is stored yet: then the whole batch is
one autocommit multi-row INSERT, a single statement that either stores every
row or (a key already taken) none. Otherwise ``insert_batch`` runs inside the
caller's transaction (``BEGIN IMMEDIATE``, so what it reads stays true until
the commit, across processes): one query for the keys already stored, one for
the next id, one INSERT per ``ROWS_PER_INSERT`` rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from api.records import COLUMNS, Added, NewResult, StoredResult

# Rows per INSERT statement (6 values each, far below SQLite's 32,766 variables);
# one statement text per row count, kept in the connection's statement cache.
ROWS_PER_INSERT = 64
COLUMN_LIST = "received_at, idempotency_key, body_digest, metric, body"
Row = tuple[object, ...]


def _values(rows: int, columns: int) -> str:
    return ", ".join(["(" + ", ".join("?" * columns) + ")"] * rows)


def _flat(rows: Sequence[Row]) -> list[object]:
    return [value for row in rows for value in row]


def insert_new(conn: sqlite3.Connection, batch: Sequence[NewResult]) -> list[Added] | None:
    """Store every post of ``batch`` with one autocommit statement; None (nothing
    stored) when a key of it is already stored or it is larger than one statement."""
    firsts: dict[str, int] = {}  # key -> index of its first post in the batch
    rows = []
    for index, new in enumerate(batch):
        if new.idempotency_key is None or firsts.setdefault(new.idempotency_key, index) == index:
            rows.append(
                (new.received_at, new.idempotency_key, new.body_digest, new.metric, new.body)
            )
    if len(rows) > ROWS_PER_INSERT:
        return None
    statement = f"INSERT INTO result ({COLUMN_LIST}) VALUES {_values(len(rows), 5)}"
    try:
        cursor = conn.execute(statement, _flat(rows))
    except sqlite3.IntegrityError:  # a key is taken: the transaction path finds which
        return None
    # One statement holds the write lock: its rows got consecutive ids, in order.
    next_id = (cursor.lastrowid or 0) - len(rows) + 1
    added: list[Added] = []
    for index, new in enumerate(batch):
        key = new.idempotency_key
        if key is not None and firsts[key] != index:  # a repeat of a post of this batch
            first = added[firsts[key]]
            added.append(Added(first.result, first.body_digest, created=False))
            continue
        added.append(
            Added(StoredResult(next_id, new.received_at, key, new.body), new.body_digest, True)
        )
        next_id += 1
    return added


def insert_batch(conn: sqlite3.Connection, batch: Sequence[NewResult]) -> list[Added]:
    """Store each of ``batch`` unless its key is taken (inside the caller's transaction)."""
    known = _stored_under(conn, [new.idempotency_key for new in batch])
    next_id = _next_id(conn)
    added: list[Added] = []
    rows: list[Row] = []
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
        values = _values(len(chunk), 6)
        conn.execute(f"INSERT INTO result (id, {COLUMN_LIST}) VALUES {values}", _flat(chunk))
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
