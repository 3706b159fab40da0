"""Which ticks retention spares: those recorded in the last moments of wall time.

A ``replay`` of a past year beside a live ``run`` records runs whose instants
are far behind the run's clock, so past its retention as soon as they are
written; pruned at once, they would be missing from the replay's report and
from ``localbridge runs`` the moment after. No ledger column says when a row
was written in wall time (``created_at`` and ``updated_at`` are the writing
process's clock, virtual in a ``run`` with ``--speed``), but ids only grow:
the largest id seen at a wall-clock moment bounds every row written before
it. ``RecentRows`` samples it now and then, and gives the bound of the last
sample at least ``grace`` old: rows above it were written, or may have been,
within the grace, and stay until a later prune. A finished tick run again
(``replay`` reopens a failed one) keeps its old id, so it is not spared:
it was recorded long before, and its row says how it ended.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

from localbridge.ledger.connect import LedgerConnection

GRACE = timedelta(hours=1)
"""Wall time a run stays, however old its instant: long enough to read a replay's
report and browse its runs, short enough that a long-lived ``run`` still
bounds its ledger (retention plus what an hour records)."""
SAMPLE_EVERY_S = 60.0
"""Real seconds between samples of the largest id: the bound moves a minute at a time."""


class RecentRows:
    """The largest tick id written at least ``grace`` ago in wall time (``wall``: seconds)."""

    def __init__(
        self,
        grace: timedelta = GRACE,
        wall: Callable[[], float] = time.monotonic,
        sample_every_s: float = SAMPLE_EVERY_S,
    ) -> None:
        self._grace_s = grace.total_seconds()
        self._wall = wall
        self._sample_every_s = min(sample_every_s, self._grace_s)
        self._samples: deque[tuple[float, int]] = deque()

    def bound(self, connection: LedgerConnection) -> int | None:
        """Ticks with an id at most this were written ``grace`` ago or earlier; None
        when no id is known to be that old yet (the first ``grace`` of a process)."""
        self._sample(connection)
        now = self._wall()
        old = None
        while self._samples and now - self._samples[0][0] >= self._grace_s:
            old = self._samples.popleft()
        if old is None:
            return None
        self._samples.appendleft(old)  # the newest old enough: still the bound next time
        return old[1]

    def _sample(self, connection: LedgerConnection) -> None:
        last = self._samples[-1][0] if self._samples else None
        if last is not None and self._wall() - last < self._sample_every_s:
            return
        [[largest]] = connection.query("SELECT coalesce(max(id), 0) FROM ticks")
        # Read after the id, so every row written before this moment is at or below it.
        self._samples.append((self._wall(), int(largest)))
