"""Checkpoints off the writers' path, while a replay commits transaction after transaction.

In WAL mode each commit appends to the ``-wal`` file; by default the commit
that takes it past 1,000 pages also copies it back into the database and
syncs both (a checkpoint) - waiting on the disk, with
the ledger's lock held, so every replay worker that finishes its batch
meanwhile waits too. While a replay runs, a thread of its own checkpoints
instead (PASSIVE: it never blocks a writer or a reader), so a commit only
appends, and the file still stays as small as a few batches.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHECKPOINT_EVERY_S = 0.2
"""How often the thread moves what the WAL holds into the database."""


@contextmanager
def checkpoints_aside(
    path: Path, writer: sqlite3.Connection, lock: threading.Lock
) -> Iterator[None]:
    """Within this, ``writer``'s commits leave checkpoints to a thread of their own."""
    if str(path) == ":memory:":  # no file, no WAL
        yield
        return
    with lock:
        (pages,) = writer.execute("PRAGMA wal_autocheckpoint").fetchone()
        writer.execute("PRAGMA wal_autocheckpoint = 0")
    stop = threading.Event()
    thread = threading.Thread(
        target=_checkpoint_until, args=(path, stop), name="localbridge-checkpoints", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with lock:
            writer.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")


def _checkpoint_until(path: Path, stop: threading.Event) -> None:
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error:
        return  # the writer's own checkpoints resume when the replay ends
    try:
        while not stop.wait(CHECKPOINT_EVERY_S):
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                continue  # the next round tries again; the commits go on appending meanwhile
    finally:
        db.close()
