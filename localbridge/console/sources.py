"""Where the console's facts come from: a running runtime, or only a ledger file.

``localbridge run`` serves the console from its ``Runtime``: the functions as
they are scheduled now, its clock (virtual under ``make run``), and actions
that run functions (invoke, redrive). ``localbridge console`` has no runtime:
the functions are those the ledger has seen, the clock is the system's, and
only the ledger actions (pause, resume, purge) are possible.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from localbridge.abc import Clock
from localbridge.clock import SystemClock
from localbridge.events import tick_event
from localbridge.ledger.browse import LedgerReader
from localbridge.ledger.pauses import read_paused
from localbridge.runtime.firing import scheduled_tick
from localbridge.runtime.loop import Runtime
from localbridge.schedules import Schedule, ScheduleError, parse_schedule
from localbridge.ticks import Tick, TickSource

NEXT_FIRES = 3
REPLAY_LIMIT = 1000
"""At most this many ticks per replay from the page (``localbridge replay`` has none)."""


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

    @property
    def until(self) -> datetime | None:
        """Where the clock stops (``run --until``); None when it runs on."""

    def invoke(self, name: str, event: Mapping[str, Any] | None = None) -> int:
        """Start an asynchronous invocation now, with ``event`` or the scheduled
        event of this second; its tick id."""

    def scheduled_event(self, name: str, at: datetime) -> dict[str, Any]:
        """The event EventBridge would send ``name`` at ``at``."""

    def sent_event(self, tick: Tick) -> dict[str, Any] | None:
        """The event a tick the ledger keeps none for was sent (an invocation without
        a payload gets the scheduled event of its instant, made as it runs); None
        when that cannot be told from here."""

    def replay(self, name: str, since: datetime, until: datetime) -> list[int]:
        """Run ``name``'s scheduled instants in [since, until) not run before; their ids."""

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

    @property
    def until(self) -> datetime | None:
        return self.runtime.gate.until

    def invoke(self, name: str, event: Mapping[str, Any] | None = None) -> int:
        return self.runtime.enqueue_event(name, event).id

    def scheduled_event(self, name: str, at: datetime) -> dict[str, Any]:
        function = self.runtime.function(name)
        assert function is not None, f"{name} is checked before"
        return dict(self.runtime.build_event(function.spec, at, str(uuid.uuid4())))

    def sent_event(self, tick: Tick) -> dict[str, Any] | None:
        function = self.runtime.function(tick.function)
        if function is None or tick.event_id is None:
            return None  # gone since, or an older ledger's tick: a new id per attempt
        return dict(tick_event(self.runtime.build_event, function.spec, tick))

    def replay(self, name: str, since: datetime, until: datetime) -> list[int]:
        function = self.runtime.function(name)
        assert function is not None, f"{name} is checked before"
        instants = itertools.takewhile(
            lambda t: t < until, function.schedule.iter_fire_times(since - timedelta(seconds=1))
        )
        now, build = self.clock.now(), self.runtime.build_event
        ticks = [
            scheduled_tick(function.spec, t, build, TickSource.REPLAY, now)
            for t in itertools.islice(instants, REPLAY_LIMIT)
        ]
        added = self.runtime.ledger.add_ticks(ticks, now) if ticks else []
        self.runtime.run_ticks(added)
        return [tick.id for tick in added]

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

    until = None

    def invoke(self, name: str, event: Mapping[str, Any] | None = None) -> int:
        raise NotImplementedError("functions run only under `localbridge run`")

    def scheduled_event(self, name: str, at: datetime) -> dict[str, Any]:
        raise NotImplementedError("functions run only under `localbridge run`")

    def sent_event(self, tick: Tick) -> dict[str, Any] | None:
        return None  # the account, region and rule are the runtime's

    def replay(self, name: str, since: datetime, until: datetime) -> list[int]:
        raise NotImplementedError("functions run only under `localbridge run`")

    def redrive(self, tick_ids: Sequence[int]) -> list[int]:
        raise NotImplementedError("dead letters are redriven only under `localbridge run`")
