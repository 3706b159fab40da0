"""Where the console's facts come from: a running runtime, or only a ledger file.

``localbridge run`` serves the console from its ``Runtime``: the functions as
they are scheduled now, its clock (virtual under ``make run``), and actions
that run functions (invoke, redrive). ``localbridge console`` has no runtime:
the functions are those the ledger has seen, the clock is the system's, and
only the ledger actions (pause, resume, purge) are possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from localbridge.abc import Clock
from localbridge.clock import SystemClock
from localbridge.ledger.browse import LedgerReader
from localbridge.ledger.pauses import read_paused
from localbridge.runtime.loop import Runtime
from localbridge.schedules import Schedule, ScheduleError, parse_schedule
from localbridge.ticks import TickSource

NEXT_FIRES = 3


@dataclass(frozen=True)
class FunctionView:
    """A scheduled function as the console shows it."""

    name: str
    expression: str
    description: str
    next_fires: tuple[datetime, ...]
    handler: str | None = None
    results_api_url: str | None = None


def view_of(
    name: str,
    expression: str,
    schedule: Schedule | None,
    now: datetime,
    handler: str | None = None,
    results_api_url: str | None = None,
    until: datetime | None = None,
) -> FunctionView:
    if schedule is None:
        return FunctionView(name, expression, "not a valid schedule", (), handler, results_api_url)
    upcoming = tuple(
        t for t in schedule.next_fire_times(now, NEXT_FIRES) if until is None or t <= until
    )
    return FunctionView(name, expression, schedule.describe(), upcoming, handler, results_api_url)


class Source(Protocol):
    """What the console needs besides the ledger's history."""

    @property
    def clock(self) -> Clock: ...

    @property
    def can_run(self) -> bool:
        """Whether functions can be invoked and dead letters redriven from here."""

    def functions(self) -> Sequence[FunctionView]: ...

    def paused(self) -> frozenset[str]: ...

    def paused_changed(self) -> None:
        """Told after the console paused or resumed something."""

    def invoke(self, name: str) -> int:
        """Start an asynchronous invocation now; its tick id."""

    def redrive(self, tick_ids: Sequence[int]) -> list[int]:
        """Run dead ticks again; the ids reopened."""


class RuntimeSource:
    """The console of ``localbridge run``."""

    can_run = True

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    def functions(self) -> list[FunctionView]:
        now = self.clock.now()
        return [
            view_of(
                f.name,
                f.spec.expression,
                f.schedule,
                now,
                f.spec.handler,
                f.spec.environment.get("RESULTS_API_URL"),
                self.runtime.gate.until,
            )
            for f in sorted(self.runtime.functions(), key=lambda f: f.name)
        ]

    def paused(self) -> frozenset[str]:
        return self.runtime.gate.pauses.paused()

    def paused_changed(self) -> None:
        self.runtime.gate.pauses.refresh()

    def invoke(self, name: str) -> int:
        return self.runtime.enqueue_event(name).id

    def redrive(self, tick_ids: Sequence[int]) -> list[int]:
        reopened = self.runtime.ledger.reopen(tick_ids, TickSource.REDRIVE, self.clock.now())
        self.runtime.run_ticks(reopened)
        return [tick.id for tick in reopened]


class LedgerSource:
    """The console of ``localbridge console``: what the ledger knows, nothing runs."""

    can_run = False

    def __init__(self, reader: LedgerReader, clock: Clock | None = None) -> None:
        self._reader = reader
        self.clock: Clock = clock or SystemClock()

    def functions(self) -> list[FunctionView]:
        now = self.clock.now()
        views = []
        for mark in self._reader.function_marks():
            try:
                schedule: Schedule | None = parse_schedule(mark.expression, anchor=mark.anchor)
            except ScheduleError:
                schedule = None
            views.append(view_of(mark.name, mark.expression, schedule, now))
        return views

    def paused(self) -> frozenset[str]:
        return read_paused(self._reader.path)

    def paused_changed(self) -> None:
        pass

    def invoke(self, name: str) -> int:
        raise NotImplementedError("functions run only under `localbridge run`")

    def redrive(self, tick_ids: Sequence[int]) -> list[int]:
        raise NotImplementedError("dead letters are redriven only under `localbridge run`")
