"""Running attempts: concurrency limits, the ledger around each run, retries.

The ``Dispatcher`` takes ticks that are due, starts each on a worker thread as
soon as its function's ``max_concurrency`` (and the optional overall limit)
allows, records the attempt in the ledger before and after the invocation,
decides what follows (``retries.after_attempt``) and logs one line per run.
Ticks that find a limit reached wait in order; none is dropped.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from localbridge import Schedule
from localbridge.clock import Clock
from localbridge.ledger import AttemptEnd, Ledger, Tick, TickState
from localbridge.model import FunctionSpec, InvocationResult, Invoker, Outcome
from localbridge.pool import WorkerPool
from localbridge.retries import Decision, after_attempt, is_expired
from localbridge.settings import FunctionSettings

run_log = logging.getLogger("localbridge.runs")

EventFactory = Callable[[FunctionSpec, datetime], Mapping[str, Any]]
"""Builds the scheduled event for a function and instant."""


@dataclass(frozen=True)
class Function:
    """A scheduled function with everything the runtime needs to fire and run it."""

    spec: FunctionSpec
    schedule: Schedule
    settings: FunctionSettings

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class RunReport:
    """One finished attempt, as logged and as reported to listeners."""

    tick: Tick
    attempt: int
    lateness_ms: float
    result: InvocationResult
    decision: Decision


def format_instant(instant: datetime) -> str:
    """An instant as people read it in logs: seconds, or microseconds when present."""
    text = instant.strftime("%Y-%m-%dT%H:%M:%S")
    if instant.microsecond:
        text += f".{instant.microsecond:06d}"
    return text + "Z"


def describe_run(report: RunReport) -> str:
    """The one log line per run: function, scheduled time, lateness, duration, outcome."""
    tick, result, decision = report.tick, report.result, report.decision
    line = (
        f"{tick.function} {format_instant(tick.scheduled_at)} attempt {report.attempt} "
        f"lateness {report.lateness_ms:.1f} ms duration {result.duration_ms:.1f} ms "
        f"{result.outcome.value}"
    )
    if not result.succeeded:
        line += f" ({result.error_type}: {result.error_message})"
    if decision.state is TickState.RETRYING and decision.next_attempt_at is not None:
        line += f" -> {decision.reason} {format_instant(decision.next_attempt_at)}"
    elif decision.state is TickState.DEAD:
        line += f" -> dead: {decision.reason}"
    return line


def crashed_result(error: BaseException, started_at: float, ended_at: float) -> InvocationResult:
    """What an invoker that raised (instead of reporting) amounts to."""
    return InvocationResult(
        outcome=Outcome.CRASHED,
        started_at=started_at,
        ended_at=ended_at,
        error_type=type(error).__name__,
        error_message=str(error),
        traceback="".join(traceback.format_exception(error)),
    )


class Dispatcher:
    """Runs attempts of due ticks on worker threads, within concurrency limits."""

    def __init__(
        self,
        ledger: Ledger,
        invoker: Invoker,
        clock: Clock,
        lookup: Callable[[str], Function | None],
        build_event: EventFactory,
        on_finished: Callable[[RunReport], None] = lambda report: None,
        on_dead: Callable[[Tick, str], None] = lambda tick, reason: None,
        max_workers: int = 256,
        overall_limit: int | None = None,
    ) -> None:
        self._ledger = ledger
        self._invoker = invoker
        self._clock = clock
        self._lookup = lookup
        self._build_event = build_event
        self._on_finished = on_finished
        self._on_dead = on_dead
        self._overall_limit = overall_limit
        self._pool = WorkerPool(max_workers)
        self._lock = threading.Condition()
        self._running: collections.Counter[str] = collections.Counter()
        self._in_flight = 0
        self._waiting: collections.deque[tuple[Tick, datetime]] = collections.deque()
        self._accepting = True

    # -- admission ---------------------------------------------------------

    def _has_room(self, function_name: str) -> bool:
        if self._overall_limit is not None and self._in_flight >= self._overall_limit:
            return False
        function = self._lookup(function_name)
        limit = function.settings.max_concurrency if function else None
        return limit is None or self._running[function_name] < limit

    def submit(self, tick: Tick, due: datetime) -> None:
        """Start an attempt of ``tick`` now, or as soon as the limits allow.

        ``due`` is when it should have started, for the lateness figure.
        After ``stop_accepting`` nothing starts: the tick stays pending in the
        ledger and the next start picks it up.
        """
        with self._lock:
            if not self._accepting:
                return
            if self._waiting or not self._has_room(tick.function):
                self._waiting.append((tick, due))
                self._admit_waiting()
                return
            self._take_slot(tick.function)
        self._pool.submit(functools.partial(self._attempt, tick, due))

    def _take_slot(self, function_name: str) -> None:
        self._running[function_name] += 1
        self._in_flight += 1

    def _admit_waiting(self) -> list[tuple[Tick, datetime]]:
        """Start waiting ticks that now fit, oldest first (call with the lock held)."""
        admitted = []
        for entry in list(self._waiting):
            if not self._accepting:
                break
            if self._has_room(entry[0].function):
                self._waiting.remove(entry)
                self._take_slot(entry[0].function)
                admitted.append(entry)
        for tick, due in admitted:
            self._pool.submit(functools.partial(self._attempt, tick, due))
        return admitted

    def _release_slot(self, function_name: str) -> None:
        with self._lock:
            self._running[function_name] -= 1
            self._in_flight -= 1
            self._admit_waiting()
            self._lock.notify_all()

    # -- running -----------------------------------------------------------

    def _attempt(self, tick: Tick, due: datetime) -> None:
        try:
            self._run_attempt(tick, due)
        finally:
            self._release_slot(tick.function)

    def _run_attempt(self, tick: Tick, due: datetime) -> None:
        now = self._clock.now()
        function = self._lookup(tick.function)
        if function is None:
            self._bury(tick, now, "the function no longer exists in the app")
            return
        if is_expired(tick, function.settings, now):
            self._bury(tick, now, "older than maximum_event_age before it could run")
            return
        lateness_ms = max(0.0, (now - due).total_seconds() / self._clock.speed * 1000.0)
        number = self._ledger.begin_attempt(tick.id, now, lateness_ms)
        result = self.invoke(function.spec, tick)
        ended = self._clock.now()
        decision = after_attempt(tick, result.outcome, function.settings, ended)
        self._ledger.finish_attempt(
            tick.id, number, AttemptEnd(result, ended, decision.state, decision.next_attempt_at)
        )
        report = RunReport(tick, number, lateness_ms, result, decision)
        level = logging.INFO if result.succeeded else logging.WARNING
        run_log.log(level, describe_run(report))
        self._on_finished(report)

    def run_now(self, function: Function, tick: Tick) -> RunReport:
        """A synchronous invocation (RequestResponse): no limits, no retries."""
        started = self._clock.now()
        number = self._ledger.begin_attempt(tick.id, started, 0.0)
        result = self.invoke(function.spec, tick)
        state = TickState.SUCCEEDED if result.succeeded else TickState.FAILED
        decision = Decision(state)
        self._ledger.finish_attempt(tick.id, number, AttemptEnd(result, self._clock.now(), state))
        report = RunReport(tick, number, 0.0, result, decision)
        run_log.log(logging.INFO if result.succeeded else logging.WARNING, describe_run(report))
        return report

    def _bury(self, tick: Tick, now: datetime, reason: str) -> None:
        self._ledger.set_state(tick.id, TickState.DEAD, now)
        run_log.warning(f"{tick.function} {format_instant(tick.scheduled_at)} -> dead: {reason}")
        self._on_dead(tick, reason)

    def invoke(self, spec: FunctionSpec, tick: Tick) -> InvocationResult:
        """One invocation of ``tick``'s event; an invoker error counts as a crash."""
        event = tick.event if tick.event is not None else self._build_event(spec, tick.scheduled_at)
        started = self._clock.now().timestamp()
        try:
            return self._invoker.invoke(spec, event, str(uuid.uuid4()))
        except Exception as error:
            return crashed_result(error, started, self._clock.now().timestamp())

    # -- stopping ----------------------------------------------------------

    def stop_accepting(self) -> None:
        with self._lock:
            self._accepting = False
            self._waiting.clear()

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait (real seconds) until no attempt runs or waits; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0 and not self._waiting, timeout)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight
