"""Storing a batch of results in as few SQLite statements as it takes.

Each statement makes the writer thread wait for the GIL behind the busy loop,
so when no key of the batch is stored yet (nearly always) the batch is one
autocommit multi-row INSERT (``insert_new``); else ``insert_each`` stores the
posts one by one in the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from api.records import COLUMNS, Added, NewResult, StoredResult

# Rows per statement (5 values each, far below SQLite's 32,766 variables): the
# writer commits larger batches in pieces, each statement text in SQLite's cache.
ROWS_PER_INSERT = 64
# The columns of a ``NewResult``, in its fields' order.
INSERT = "INSERT INTO result (received_at, idempotency_key, body_digest, metric, body) VALUES "
ROW = "(?, ?, ?, ?, ?)"


def insert_new(conn: sqlite3.Connection, batch: Sequence[NewResult]) -> list[Added] | None:
    """Store ``batch`` with one autocommit statement; None (nothing stored) when one
    of its keys is already stored."""
    firsts: dict[str, int] = {}  # key -> index of its first post in the batch
    rows = [
        new
        for index, new in enumerate(batch)
        if new.idempotency_key is None or firsts.setdefault(new.idempotency_key, index) == index
    ]
    values = [value for row in rows for value in row]
    try:
        cursor = conn.execute(INSERT + ", ".join([ROW] * len(rows)), values)
    except sqlite3.IntegrityError:  # a key is taken: ``insert_each`` finds which
        return None
    # One statement holds the write lock: its rows got consecutive ids, in order.
    next_id = (cursor.lastrowid or 0) - len(rows) + 1
    added: list[Added] = []
    for index, new in enumerate(batch):
        key = new.idempotency_key
        if key is not None and firsts[key] != index:  # a repeat of a post of this batch
            first = added[firsts[key]]
            added.append(Added(first.result, first.body_digest, created=False))
        else:
            stored = StoredResult(next_id, new.received_at, key, new.body)
            added.append(Added(stored, new.body_digest, created=True))
            next_id += 1
    return added


def insert_each(conn: sqlite3.Connection, batch: Sequence[NewResult]) -> list[Added]:
    """Store each of ``batch`` unless its key is stored (then that result), inside
    the caller's transaction: what it reads stays true until the commit."""
    added: list[Added] = []
    for new in batch:
        key = new.idempotency_key
        query = f"SELECT {COLUMNS}, body_digest FROM result WHERE idempotency_key = ?"
        found = None if key is None else conn.execute(query, (key,)).fetchone()
        if found is not None:
            added.append(Added(StoredResult(*found[:4]), found[4], created=False))
            continue
        cursor = conn.execute(INSERT + ROW, new)
        stored = StoredResult(cursor.lastrowid or 0, new.received_at, key, new.body)
        added.append(Added(stored, new.body_digest, created=True))
    return added
