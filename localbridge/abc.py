"""The roles of localbridge: one contract each, all in this module.

Implementations live in the packages named by role; every other part depends
on these contracts, not on one implementation:

- ``Clock``: the only "now", and the way the runtime waits for an instant
  (``clock.SystemClock``, ``VirtualClock``, ``ManualClock``);
- ``EventFactory``: the scheduled event of a function at an instant
  (``events.make_event_factory``);
- ``Invoker``: runs one invocation as Lambda does (``invokers.thread``,
  ``invokers.process``), and what some invokers also offer: ``Warmable``,
  ``BatchInvoker``;
- ``RunRecorder``: what the runtime needs of the ledger to record a run
  (``ledger.store.Ledger``, through ``ledger.runs``);
- ``InvokeBackend``: what the Lambda Invoke API runs functions with
  (``lambda_api.backends``);
- ``Service``: something that runs beside the runtime (``lambda_api.service``,
  ``console.service``);
- ``Progress``: what a replay reports its progress to (``cli.progress``).

Seams inside one package stay there: ``schedules.days.DayRule``,
``console.sources.Source``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

from localbridge.clock import Wakeup
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions
from localbridge.ticks import (
    AttemptEnd,
    Fired,
    FunctionMark,
    NewTick,
    RunReport,
    Tick,
    TickState,
)


class Clock(Protocol):
    """What the runtime needs from time."""

    @property
    def speed(self) -> float:
        """Clock seconds per real second (1 for real time)."""

    @property
    def started_at(self) -> datetime:
        """The instant the clock started from: the runtime fires every instant from here on."""

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""

    def wait_until(self, instant: datetime | None, wakeup: Wakeup) -> bool:
        """Block until ``now() >= instant`` (True) or ``wakeup`` is set (False).

        ``instant=None`` waits for the wakeup only. Never returns True early.
        """


class EventFactory(Protocol):
    """Builds the scheduled event for a function and instant (and the delivery's event id)."""

    def __call__(
        self, function: FunctionSpec, instant: datetime, event_id: str | None = None, /
    ) -> Mapping[str, Any]: ...


class Invoker(Protocol):
    """Runs invocations. ``invoke`` blocks until the run ends and is thread-safe."""

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult: ...

    def reload(self) -> None:
        """Serve later invocations with freshly imported code (runs in flight finish)."""

    def close(self) -> None:
        """Stop every worker; invocations in flight are allowed to finish first."""


@runtime_checkable
class Warmable(Protocol):
    """An invoker that can start its workers (or import handlers) before the first run."""

    def warm(self, functions: Iterable[FunctionSpec]) -> None: ...


@runtime_checkable
class BatchInvoker(Protocol):
    """An invoker that runs several invocations of one function in one hand-over
    (process mode: one message to a worker process, not one per run)."""

    def invoke_batch(
        self, function: FunctionSpec, runs: Sequence[tuple[Mapping[str, Any], str]]
    ) -> list[InvocationResult]: ...


class RunRecorder(Protocol):
    """What the runtime needs of the ledger to record a run, from its tick to its outcome.

    Every write is one transaction. A tick is committed before its function
    starts and an attempt's outcome after it ends, so a crash at any moment
    leaves a row to recover from.
    """

    def add_ticks(
        self, ticks: Sequence[NewTick], now: datetime, marks: Iterable[FunctionMark] = ()
    ) -> list[Tick]:
        """Record ``ticks`` pending (and advance ``marks``); only the new ones are returned."""

    def begin_attempts(
        self, ticks: Sequence[Tick], started_at: datetime, lateness_ms: Sequence[float]
    ) -> list[int]:
        """Mark ``ticks`` running and open their next attempts; the attempts' numbers."""

    def finish_and_begin(
        self,
        finished: Sequence[tuple[int, int, AttemptEnd]],
        ticks: Sequence[Tick],
        started_at: datetime,
        lateness_ms: Sequence[float],
        fired: Sequence[Fired] = (),
    ) -> list[int]:
        """The group commit: ``fired`` (runs started from ticks written ahead), the
        ``finished`` attempts' outcomes, and attempts of ``ticks`` opened; their numbers."""

    def finish_attempt(self, tick_id: int, number: int, end: AttemptEnd) -> None:
        """Record one attempt's outcome (a synchronous invocation's)."""

    def finish_and_start(
        self,
        finished: Sequence[RunReport],
        ticks: Sequence[Tick | NewTick],
        started_at: datetime,
        lateness_ms: Sequence[float],
    ) -> list[tuple[int, int] | None]:
        """A replay's group commit, where ``ticks`` may be new (recorded running);
        each tick's (id, attempt number), None for one another process recorded."""

    def abandon_attempts(self, opened: Sequence[tuple[int, int]], now: datetime) -> None:
        """Take back attempts ``(tick id, number)`` opened but never started."""

    def set_state(
        self, tick_id: int, state: TickState, now: datetime, next_attempt_at: datetime | None = None
    ) -> None:
        """Move a tick to ``state`` without an attempt (the dead-letter queue)."""


class InvokeBackend(Protocol):
    """What runs the Invoke API's functions: the runtime (ledger, retries) or a bare invoker."""

    def functions(self) -> Sequence[FunctionSpec]:
        """The functions served right now (re-read per request: code reloads)."""
        ...

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any] | None,
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        """Run now and wait; ``None`` means the scheduled event for the current instant.

        ``request_id`` is the function's ``context.aws_request_id``.
        """
        ...

    def enqueue(
        self, function: FunctionSpec, event: Mapping[str, Any] | None, request_id: str
    ) -> None:
        """Accept an asynchronous invocation (``Event``); return once it is recorded."""


RuntimeT = TypeVar("RuntimeT", contravariant=True)


class Service(Protocol[RuntimeT]):
    """Something that runs alongside the runtime (an HTTP endpoint): ``Service[Runtime]``."""

    def start(self, runtime: RuntimeT) -> None: ...

    def stop(self) -> None: ...


class Progress(Protocol):
    """What a replay reports its progress to (the command line's progress bar)."""

    def start(self, already_done: int = 0) -> None: ...

    def advance(self, failed: bool = False) -> None: ...

    def finish(self) -> None: ...
