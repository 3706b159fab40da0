"""Opening a ledger file, with one clear ``LedgerError`` for every way that can fail.

A ledger may be asked for where it cannot live (a read-only directory, a path
through a file), may be some other file (garbage, another SQLite database such
as the results API's), or may come from a newer localbridge. Each is one line
saying what is wrong and what to do, for the CLI to print (exit 2).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from localbridge.ledger.locking import LOCK_SLICE_MS, OPEN_WAIT_MS, LockWait
from localbridge.ledger.schema import MIGRATIONS, LedgerError, migrate

__all__ = ["LedgerError", "check_intact", "connect", "describe"]

_WHAT_TO_DO = "pass --ledger with another path"


def describe(path: Path, error: sqlite3.Error | OSError) -> str:
    """``error``, met while using the ledger at ``path``, as a person can act on it."""
    text = str(error.strerror if isinstance(error, OSError) and error.strerror else error)
    lowered = text.lower()
    if "malformed" in lowered or "corrupt" in lowered:
        return damaged(path, text)
    if "not a database" in lowered:
        return f"{path} is not a localbridge ledger (not an SQLite file); {_WHAT_TO_DO}"
    if ("readonly" in lowered or "read-only" in lowered) and on_read_only_filesystem(path):
        return (
            f"the ledger {path} cannot be written: its filesystem is mounted read-only "
            f"({text}); remount it read-write, or {_WHAT_TO_DO} in a writable place"
        )
    if "readonly" in lowered or "read-only" in lowered or "permission" in lowered:
        return f"the ledger {path} cannot be written ({text}); {_WHAT_TO_DO} in a writable place"
    if "unable to open" in lowered or isinstance(error, OSError):
        return (
            f"cannot open or create the ledger {path} ({text}): is its directory writable? "
            f"{_WHAT_TO_DO}"
        )
    return f"the ledger {path} failed: {text}; {_WHAT_TO_DO}, or check the disk"


def damaged(path: Path, detail: str) -> str:
    return (
        f"the ledger {path} is damaged ({detail}): move it aside and start a new one, or "
        f"recover what it holds with `sqlite3 {path} .recover`; {_WHAT_TO_DO}"
    )


CHECK_LIMIT_BYTES = 32 * 2**20
"""Ledgers up to this size are checked whole before a read-only command reads them
(about 7 ms a MiB on a busy machine: a read of a larger one would cost seconds)."""


def check_intact(db: sqlite3.Connection, path: Path) -> None:
    """Raise ``LedgerError`` naming the ledger damaged when SQLite finds damaged pages.

    A read touches only the pages it needs, so a damaged page elsewhere would
    go unnoticed: a read-only command checks the file first (``quick_check``:
    every page's structure, in time proportional to the file, hence only up
    to ``CHECK_LIMIT_BYTES``; a larger file is checked page by page as read).
    """
    if path.stat().st_size > CHECK_LIMIT_BYTES:
        return
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as error:
        raise LedgerError(damaged(path, str(error))) from None
    if problems != ["ok"]:
        raise LedgerError(damaged(path, "; ".join(problems)[:200]))


def on_read_only_filesystem(path: Path) -> bool:
    """Whether ``path`` exists on a filesystem mounted read-only (nothing can write it)."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def open_sqlite(path: Path, timeout_s: float) -> sqlite3.Connection:
    """An SQLite connection to ``path``: on a read-only filesystem, as an immutable file.

    A ledger is in WAL mode, whose readers need a ``-shm`` file beside it that a
    read-only filesystem cannot hold; nothing can change a file there, so SQLite
    may read it as immutable, without one.
    """
    target, uri = str(path), False
    if on_read_only_filesystem(path):
        target, uri = f"{path.resolve().as_uri()}?immutable=1", True
    return sqlite3.connect(
        target, timeout=timeout_s, isolation_level=None, check_same_thread=False, uri=uri
    )


def connect_read_only_filesystem(path: Path) -> sqlite3.Connection:
    """The ledger at ``path`` on a read-only filesystem: readable, never migrated."""
    try:
        connection = open_sqlite(path, 0)
        if up_to_date(connection):
            return connection
        connection.close()
    except sqlite3.Error as error:
        raise LedgerError(describe(path, error)) from None
    raise LedgerError(
        f"the ledger {path} is on a read-only filesystem and of an older schema this "
        "localbridge must update: mount it read-write, or copy it to a writable place "
        "and pass --ledger with the copy"
    )


def connect(path: Path) -> sqlite3.Connection:
    """A migrated connection to the ledger at ``path`` (created when missing).

    On a read-only filesystem a ledger can still be read (``runs``, ``list``,
    ``stats``); a write to it fails, saying it cannot be written."""
    if path.is_file() and on_read_only_filesystem(path):
        return connect_read_only_filesystem(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LedgerError(describe(path, error)) from None
    if path.exists() and not path.is_file():
        raise LedgerError(f"{path} is not a file, so it cannot be a ledger; {_WHAT_TO_DO}")
    try:
        connection = open_sqlite(path, OPEN_WAIT_MS / 1000)
        current = up_to_date(connection)
        if not current:
            # Only a file without tables takes this (and before WAL): pruning then hands
            # freed pages back to the filesystem a few at a time (``pruning``), never blocking.
            connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
        connection.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL survives any process crash (kill -9); only a power
        # loss can take the last commits, which is the trade SQLite recommends.
        connection.execute("PRAGMA synchronous = NORMAL")
        if not current:
            LockWait().begin(connection)
            try:
                migrate(connection, path)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        # Open: writes wait for a lock slice by slice (``locking``), so a stop cuts them short.
        connection.execute(f"PRAGMA busy_timeout = {LOCK_SLICE_MS}")
    except sqlite3.Error as error:
        raise LedgerError(describe(path, error)) from None
    return connection


def up_to_date(connection: sqlite3.Connection) -> bool:
    """Whether the file is a ledger of the latest schema: then opening it writes nothing,
    so a second connection opens while another holds the write lock, and a read-only
    file opens for reading."""
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    if version != len(MIGRATIONS):
        return False
    found = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('ticks', 'owners')"
    ).fetchone()[0]
    return bool(found == 2)
