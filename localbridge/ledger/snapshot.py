"""The ledger as it was at one moment: reads that a runtime writing beside them cannot change.

``run`` takes one just before its runtime starts and reads it afterwards to
say what it found (which scheduled instants an earlier run already did),
without holding up the first fires and without counting what the new run
writes meanwhile. It is an open read transaction on a read-only connection
of its own (WAL keeps what it saw for it), so close it soon: while it is open
the log cannot be checkpointed past it. The file is one the caller already
opened (and so migrated) as a ``Ledger``: this connection only reads, and
takes a fraction of a millisecond, where a migrating one takes several.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from localbridge.instants import format_instant, parse_instant
from localbridge.ledger.opening import LedgerError, describe
from localbridge.ledger.pruning import PrunedSpans, pruned_spans
from localbridge.ticks import TickState


class LedgerSnapshot:
    """Reads of the ledger at ``path`` as of the moment this was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            uri = f"{path.resolve().as_uri()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 30000")
            # A read transaction sees the file as of its first read, until it ends.
            self._db.execute("BEGIN")
            self._db.execute("SELECT count(*) FROM functions").fetchall()
        except sqlite3.Error as error:
            raise LedgerError(describe(path, error)) from None

    def scheduled_states(
        self, function: str, after: datetime, through: datetime
    ) -> dict[datetime, TickState]:
        """The state of each scheduled instant of ``function`` in (after, through] that
        the ledger holds (a schedule's, catch-up's, replay's or redrive's tick; an
        invocation holds no scheduled instant)."""
        try:
            rows = self._db.execute(
                "SELECT scheduled_at, state FROM ticks WHERE function = ? AND scheduled_at > ? "
                "AND scheduled_at <= ? AND NOT invoked",
                (function, format_instant(after), format_instant(through)),
            ).fetchall()
        except sqlite3.Error as error:
            raise LedgerError(describe(self.path, error)) from None
        return {parse_instant(row[0]): TickState(row[1]) for row in rows}

    def pruned_spans(self) -> PrunedSpans:
        """Per function, the scheduled instants pruning removed (``ledger.pruning``)."""
        try:
            return pruned_spans(self._db)
        except sqlite3.Error as error:
            raise LedgerError(describe(self.path, error)) from None

    def close(self) -> None:
        self._db.close()  # ends the read transaction

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
