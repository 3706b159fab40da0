"""Paused functions: EventBridge's disable-rule and enable-rule, kept in the ledger.

A paused function fires nothing; resuming it does not catch up the paused
period, as a re-enabled AWS rule does not. The state lives in the ledger so
it holds across restarts and reaches a ``run`` in another process
(``runtime.pausing`` reads it at most once a second).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from datetime import datetime
from pathlib import Path

from localbridge.instants import format_instant, parse_instant
from localbridge.ledger.connect import LedgerConnection
from localbridge.ledger.locking import LOCK_TIMEOUT_S
from localbridge.ledger.opening import open_sqlite


def read_paused(path: Path) -> frozenset[str]:
    """The paused functions, through a connection opened for this one read.

    For the runtime's once-a-second check: nothing stays open between reads.
    The file exists and is migrated (the runtime's ledger opened it). An
    in-memory ledger (``:memory:``) has no file another process could pause
    through, and a new connection would see an empty database: nothing is paused.
    """
    if str(path) == ":memory:":
        return frozenset()
    with closing(open_sqlite(path, LOCK_TIMEOUT_S)) as db:
        return frozenset(row[0] for row in db.execute("SELECT function FROM paused"))


class PauseStore:
    """Reads and changes which functions are paused in one ledger file."""

    def __init__(self, connection: LedgerConnection) -> None:
        self._connection = connection

    @classmethod
    def open(cls, path: Path) -> PauseStore:
        return cls(LedgerConnection(path))

    def close(self) -> None:
        self._connection.close()

    def paused(self) -> dict[str, datetime]:
        """Each paused function and when it was paused."""
        rows = self._connection.query("SELECT function, paused_at FROM paused")
        return {row[0]: parse_instant(row[1]) for row in rows}

    def pause(self, names: Iterable[str], now: datetime) -> list[str]:
        """Pause ``names``; returns those that were not paused before."""
        stamp = format_instant(now)
        changed = []
        with self._connection.transaction() as db:
            for name in names:
                cursor = db.execute(
                    "INSERT INTO paused (function, paused_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (name, stamp),
                )
                if cursor.rowcount:
                    changed.append(name)
        return changed

    def resume(self, names: Iterable[str]) -> list[str]:
        """Resume ``names``; returns those that were paused."""
        changed = []
        with self._connection.transaction() as db:
            for name in names:
                if db.execute("DELETE FROM paused WHERE function = ?", (name,)).rowcount:
                    changed.append(name)
        return changed
