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
import itertools
import json
import logging
import queue
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from localbridge import Schedule
from localbridge.clock import Clock
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec, InvocationResult, Invoker, Outcome
from localbridge.project.settings import FunctionSettings
from localbridge.runtime.pool import WorkerPool
from localbridge.runtime.retries import Decision, after_attempt, is_expired
from localbridge.ticks import AttemptEnd, Tick, TickState

run_log = logging.getLogger("localbridge.runs")
log = logging.getLogger("localbridge")

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
    ended_at: datetime | None = None

    @property
    def end(self) -> tuple[int, int, AttemptEnd]:
        """The ledger row update for this attempt."""
        assert self.ended_at is not None
        end = AttemptEnd(
            self.result, self.ended_at, self.decision.state, self.decision.next_attempt_at
        )
        return self.tick.id, self.attempt, end


def display_instant(instant: datetime) -> str:
    """An instant as people read it in logs: seconds, or microseconds when present."""
    text = instant.strftime("%Y-%m-%dT%H:%M:%S")
    if instant.microsecond:
        text += f".{instant.microsecond:06d}"
    return text + "Z"


PAYLOAD_SUMMARY_LIMIT = 200
"""Characters of a run's payload shown in its log line; the ledger keeps it all."""


def payload_summary(payload: Any) -> str:
    """The returned payload as compact JSON, cut short for a log line.

    Showing it is what lets someone watching ``make run`` see the metric each
    run posted without querying the API.
    """
    text = json.dumps(payload, separators=(",", ":"), default=str)
    if len(text) <= PAYLOAD_SUMMARY_LIMIT:
        return text
    return text[: PAYLOAD_SUMMARY_LIMIT - 3] + "..."


def describe_run(report: RunReport) -> str:
    """The one log line per run: function, scheduled time, lateness, duration, outcome."""
    tick, result, decision = report.tick, report.result, report.decision
    line = (
        f"{tick.function} {display_instant(tick.scheduled_at)} attempt {report.attempt} "
        f"lateness {report.lateness_ms:.1f} ms duration {result.duration_ms:.1f} ms "
        f"{result.outcome.value}"
    )
    if result.succeeded:
        line += f" -> {payload_summary(result.payload)}"
    else:
        line += f" ({result.error_type}: {result.error_message})"
    if decision.state is TickState.RETRYING and decision.next_attempt_at is not None:
        line += f" -> {decision.reason} {display_instant(decision.next_attempt_at)}"
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


class OutcomeWriter:
    """Records finished attempts from one thread, many per transaction.

    Worker threads hand over an outcome and move on; this thread commits
    whatever has queued up in one transaction, then calls ``after_commit`` for
    each - so a retry is scheduled, a slot freed or a waiter told only once the
    outcome is durable. Under a burst (10,000 functions due at once) that is a
    few dozen commits instead of 10,000, and no worker waits on the disk.
    """

    def __init__(
        self, ledger: Ledger, after_commit: Callable[[RunReport], None], batch_limit: int = 2000
    ) -> None:
        self._ledger = ledger
        self._after_commit = after_commit
        self._batch_limit = batch_limit
        self._queue: queue.SimpleQueue[RunReport] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="localbridge-ledger", daemon=True)
        self._thread.start()

    def put(self, report: RunReport) -> None:
        self._queue.put(report)

    def _write(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._batch_limit:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._ledger.finish_attempts([report.end for report in batch])
            except Exception:
                # The attempts stay "running": the next start retries them.
                log.exception("could not record %d outcome(s) in the ledger", len(batch))
            for report in batch:
                try:
                    self._after_commit(report)
                except Exception:
                    log.exception("error after recording %s", report.tick.function)


Waiting = tuple[int, Tick, datetime]
"""A tick waiting for room under a limit: (arrival order, tick, when it was due)."""


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
        self._outcomes = OutcomeWriter(ledger, self._recorded)
        self._lock = threading.Condition()
        self._running: collections.Counter[str] = collections.Counter()
        self._in_flight = 0
        self._waiting: dict[str, collections.deque[Waiting]] = {}
        self._arrivals = itertools.count()
        self._accepting = True

    # -- admission ---------------------------------------------------------

    def _has_room(self, function_name: str) -> bool:
        if self._overall_limit is not None and self._in_flight >= self._overall_limit:
            return False
        function = self._lookup(function_name)
        limit = function.settings.max_concurrency if function else None
        return limit is None or self._running[function_name] < limit

    def submit(self, tick: Tick, due: datetime) -> None:
        self.submit_many([(tick, due)])

    def submit_many(self, entries: Sequence[tuple[Tick, datetime]]) -> None:
        """Start attempts now, or as soon as the limits allow, in the order given.

        ``due`` is when each should have started, for the lateness figure.
        After ``stop_accepting`` nothing starts: the ticks stay pending in the
        ledger and the next start picks them up.
        """
        admitted = []
        with self._lock:
            if not self._accepting:
                return
            for tick, due in entries:
                queue = self._waiting.get(tick.function)
                if queue or not self._has_room(tick.function):
                    entry = (next(self._arrivals), tick, due)
                    self._waiting.setdefault(tick.function, collections.deque()).append(entry)
                else:
                    self._take_slot(tick.function)
                    admitted.append((tick, due))
        self._start(admitted)

    def _take_slot(self, function_name: str) -> None:
        self._running[function_name] += 1
        self._in_flight += 1

    def _admit_waiting(self) -> list[tuple[Tick, datetime]]:
        """Take waiting ticks that now fit, oldest first (call with the lock held)."""
        admitted: list[tuple[Tick, datetime]] = []
        while self._accepting:
            heads = [q[0] for name, q in self._waiting.items() if self._has_room(name)]
            if not heads:
                return admitted
            _, tick, due = min(heads, key=lambda entry: entry[0])
            queue = self._waiting[tick.function]
            queue.popleft()
            if not queue:
                del self._waiting[tick.function]
            self._take_slot(tick.function)
            admitted.append((tick, due))
        return admitted

    def _release_slot(self, function_name: str) -> None:
        with self._lock:
            self._running[function_name] -= 1
            self._in_flight -= 1
            admitted = self._admit_waiting()
            self._lock.notify_all()
        self._start(admitted)

    # -- running -----------------------------------------------------------

    def _start(self, admitted: Sequence[tuple[Tick, datetime]]) -> None:
        """Open the attempts in one transaction, then hand each to a worker thread."""
        if not admitted:
            return
        now = self._clock.now()
        runnable: list[tuple[Tick, Function, float]] = []
        for tick, due in admitted:
            function = self._lookup(tick.function)
            if function is None:
                self._bury(tick, now, "the function no longer exists in the app")
            elif is_expired(tick, function.settings, now):
                self._bury(tick, now, "older than maximum_event_age before it could run")
            else:
                lateness = max(0.0, (now - due).total_seconds() / self._clock.speed * 1000.0)
                runnable.append((tick, function, lateness))
        if not runnable:
            return
        numbers = self._ledger.begin_attempts(
            [tick for tick, _, _ in runnable], now, [lateness for _, _, lateness in runnable]
        )
        for (tick, function, lateness), number in zip(runnable, numbers, strict=True):
            self._pool.submit(functools.partial(self._attempt, tick, function, number, lateness))

    def _attempt(self, tick: Tick, function: Function, number: int, lateness_ms: float) -> None:
        try:
            result = self.invoke(function.spec, tick)
            ended = self._clock.now()
            decision = after_attempt(tick, result.outcome, function.settings, ended)
        except BaseException:
            self._release_slot(tick.function)
            raise
        self._outcomes.put(RunReport(tick, number, lateness_ms, result, decision, ended))

    def _recorded(self, report: RunReport) -> None:
        """After the outcome is committed: log it, tell the runtime, free the slot.

        The slot goes last: once none is taken, everything about the finished
        runs has happened (``wait_idle`` relies on it).
        """
        try:
            level = logging.INFO if report.result.succeeded else logging.WARNING
            if run_log.isEnabledFor(level):
                run_log.log(level, describe_run(report))
            self._on_finished(report)
        finally:
            self._release_slot(report.tick.function)

    def run_now(self, function: Function, tick: Tick) -> RunReport:
        """A synchronous invocation (RequestResponse): no limits, no retries."""
        started = self._clock.now()
        number = self._ledger.begin_attempts([tick], started, [0.0])[0]
        result = self.invoke(function.spec, tick)
        state = TickState.SUCCEEDED if result.succeeded else TickState.FAILED
        decision = Decision(state)
        self._ledger.finish_attempt(tick.id, number, AttemptEnd(result, self._clock.now(), state))
        report = RunReport(tick, number, 0.0, result, decision)
        run_log.log(logging.INFO if result.succeeded else logging.WARNING, describe_run(report))
        return report

    def _bury(self, tick: Tick, now: datetime, reason: str) -> None:
        self._ledger.set_state(tick.id, TickState.DEAD, now)
        run_log.warning(f"{tick.function} {display_instant(tick.scheduled_at)} -> dead: {reason}")
        try:
            self._on_dead(tick, reason)
        finally:
            self._release_slot(tick.function)

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
