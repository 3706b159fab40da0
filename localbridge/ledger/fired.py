"""Recording ticks that started at their instant from rows written ahead of it.

The runtime writes a scheduled tick's row (``pending``) before its instant, so
nothing stands between the instant and the function's first line. What only
the instant decides - that the tick ran (its attempt row, the tick
``running``), that the schedule moved on (the function's mark), that a tick
written ahead was not fired after all (paused or reloaded since: its row is
deleted) - is recorded right after, in the same group commit as the outcomes
of the runs that finished meanwhile. A crash before that commit leaves the
tick ``pending``: the next start runs it (at-least-once), at its instant if
that has not come yet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from localbridge.ticks import FunctionMark, Tick, TickState

Renumbered = dict[tuple[int, int], int]
"""(tick id, the attempt number a run started with) -> the number the ledger gave it."""


@dataclass(frozen=True)
class Fired:
    """One instant's fire, recorded after its runs started."""

    ticks: Sequence[Tick]
    """Started as attempt ``tick.attempts + 1`` each, at ``started_at``."""
    started_at: datetime
    lateness_ms: Sequence[float]
    marks: Sequence[FunctionMark] = ()
    dropped: Sequence[int] = field(default_factory=list)
    """Tick ids written ahead and not fired: removed if still untouched."""


def planned_number(tick: Tick) -> int:
    """The attempt number a tick written ahead starts with."""
    return tick.attempts + 1


def delete_unfired(db: sqlite3.Connection, tick_ids: Sequence[int]) -> None:
    db.executemany(
        "DELETE FROM ticks WHERE id = ? AND state = ? AND attempts = 0",
        [(tick_id, TickState.PENDING.value) for tick_id in tick_ids],
    )


def renumbered(ticks: Sequence[Tick], numbers: Sequence[int]) -> Renumbered:
    """Runs whose number another process took first (an ``invoke`` of the same
    instant in between): their outcomes go to the number they were given."""
    return {
        (tick.id, planned_number(tick)): number
        for tick, number in zip(ticks, numbers, strict=True)
        if number != planned_number(tick)
    }
