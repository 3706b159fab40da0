"""The ledger as it was at one moment: reads that a runtime writing beside them cannot change.

``run`` takes one just before its runtime starts and reads it afterwards to
say what it found (which scheduled instants an earlier run already did),
without holding up the first fires and without counting what the new run
writes meanwhile. It is an open read transaction on a connection of its own
(WAL keeps what it saw for it), so close it soon: while it is open the log
cannot be checkpointed past it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from localbridge.instants import format_instant, parse_instant
from localbridge.ledger.connect import LedgerConnection
from localbridge.ticks import TickState


class LedgerSnapshot:
    """Reads of the ledger at ``path`` as of the moment this was made."""

    def __init__(self, path: Path) -> None:
        self._connection = LedgerConnection(path)
        # A read transaction sees the file as of its first read, until it ends.
        self._connection.query("BEGIN")
        self._connection.query("SELECT count(*) FROM functions")

    def scheduled_states(
        self, function: str, after: datetime, through: datetime
    ) -> dict[datetime, TickState]:
        """The state of each scheduled instant of ``function`` in (after, through] that
        the ledger holds (a schedule's, catch-up's, replay's or redrive's tick; an
        invocation holds no scheduled instant)."""
        rows = self._connection.query(
            "SELECT scheduled_at, state FROM ticks WHERE function = ? AND scheduled_at > ? "
            "AND scheduled_at <= ? AND NOT invoked",
            (function, format_instant(after), format_instant(through)),
        )
        return {parse_instant(row[0]): TickState(row[1]) for row in rows}

    def close(self) -> None:
        self._connection.query("ROLLBACK")
        self._connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
