"""Those told of each run: the run log, and the listeners of states and of reports.

Observers only watch: what they are told is already in the ledger, and
nothing they do changes what the runtime does next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from localbridge.runtime.runlog import log_buried, log_run
from localbridge.ticks import RunReport, Tick, TickState

log = logging.getLogger("localbridge")

Listener = Callable[[Tick, TickState], None]
"""Told of each tick's state after each attempt (or when it expires)."""
ReportListener = Callable[[RunReport], None]
"""Told of every finished attempt, scheduled or synchronous (the metrics)."""


class Observers:
    def __init__(self, listeners: list[Listener]) -> None:
        self.listeners = listeners
        self.report_listeners: list[ReportListener] = []

    def ran(self, report: RunReport, tell_state: bool = True) -> None:
        """Log a finished attempt and tell the listeners (its state too, unless
        it was synchronous: nothing follows one)."""
        try:
            log_run(report)
            for listener in self.report_listeners:
                listener(report)
            if tell_state:
                self.tell(report.tick, report.decision.state)
        except Exception:
            log.exception("error after recording %s", report.tick.function)

    def buried(self, tick: Tick, reason: str) -> None:
        """A tick dead-lettered without running."""
        try:
            log_buried(tick, reason)
            self.tell(tick, TickState.DEAD)
        except Exception:
            log.exception("error after dead-lettering %s", tick.function)

    def tell(self, tick: Tick, state: TickState) -> None:
        for listener in self.listeners:
            listener(tick, state)
