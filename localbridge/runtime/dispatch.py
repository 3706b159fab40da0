"""Running attempts: concurrency limits, the ledger around each run, retries.

The ``Dispatcher`` takes ticks that are due, starts each on a worker thread as
soon as its function's ``max_concurrency`` (and the optional overall limit)
allows, records the attempt in the ledger before (here) and after (through
``outcomes.OutcomeWriter``) the invocation, decides what follows
(``retries.after_attempt``) and logs one line per run (``runlog``). Ticks
that find a limit reached wait in order; none is dropped.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from localbridge.abc import Clock, EventFactory, Invoker
from localbridge.lambda_errors import crashed_result
from localbridge.ledger import Ledger
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions
from localbridge.runtime.functions import Function
from localbridge.runtime.outcomes import OutcomeWriter
from localbridge.runtime.retries import after_attempt, is_expired
from localbridge.runtime.runlog import log_buried, log_run
from localbridge.ticks import AttemptEnd, Decision, Fired, FunctionMark, RunReport, Tick, TickState

Waiting = tuple[int, Tick, datetime]
"""A tick waiting for room under a limit: (arrival order, tick, when it was due)."""
Runnable = tuple[Tick, Function, float]
"""An admitted tick about to run: (tick, its function, lateness in ms)."""
Event = Mapping[str, Any]

log = logging.getLogger("localbridge")


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
        self._report_listeners: list[Callable[[RunReport], None]] = []
        self._on_dead = on_dead
        self._overall_limit = overall_limit
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="localbridge-worker")
        self._outcomes = OutcomeWriter(self._settle)
        self._lock = threading.Condition()
        self._running: collections.Counter[str] = collections.Counter()
        self._in_flight = 0
        self._waiting: dict[str, collections.deque[Waiting]] = {}
        self._arrivals = itertools.count()
        self._accepting = True

    # -- admission ---------------------------------------------------------

    def _has_room(self, function_name: str, function: Function | None = None) -> bool:
        if self._overall_limit is not None and self._in_flight >= self._overall_limit:
            return False
        function = function or self._lookup(function_name)
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

    def start_fired(
        self,
        runs: Sequence[tuple[Tick, Function]],
        due: datetime,
        events: Mapping[int, Event],
        marks: Sequence[FunctionMark] = (),
        dropped: Sequence[int] = (),
    ) -> None:
        """Start ticks written ahead of their instant ``due``, now: handed to workers
        first, recorded after (``Fired``, written by ``let_start`` or the first
        run to finish), with ``marks`` and the ``dropped`` rows.

        ``events`` holds the events built ahead, by tick id. A tick a limit
        holds waits as any other, and is recorded when it begins.
        """
        with self._lock:
            if not self._accepting:
                return  # the ticks stay pending: the next start runs them
            admitted = self._admit_fired(runs, due)
        now = self._clock.now()
        lateness = max(0.0, (now - due).total_seconds() / self._clock.speed * 1000.0)
        ticks = [tick for tick, _ in admitted]
        if ticks or marks or dropped:
            self._outcomes.queue_fired(Fired(ticks, now, [lateness] * len(ticks), marks, dropped))
        for tick, fn in admitted:
            self._pool.submit(
                self._attempt, tick, fn, tick.attempts + 1, lateness, events.get(tick.id)
            )

    def _admit_fired(
        self, runs: Sequence[tuple[Tick, Function]], due: datetime
    ) -> Sequence[tuple[Tick, Function]]:
        """The runs that start now; the others wait for room (lock held)."""
        if (
            self._overall_limit is None
            and not self._waiting
            and all(function.settings.max_concurrency is None for _, function in runs)
        ):
            # Nothing limits them (the common case): every slot taken at once,
            # not one by one (a fifth of the time before 10,000 runs could start).
            self._running.update(tick.function for tick, _ in runs)
            self._in_flight += len(runs)
            return runs
        admitted = []
        for tick, function in runs:
            if self._waiting.get(tick.function) or not self._has_room(tick.function, function):
                entry = (next(self._arrivals), tick, due)
                self._waiting.setdefault(tick.function, collections.deque()).append(entry)
            else:
                self._take_slot(tick.function)
                admitted.append((tick, function))
        return admitted

    def let_start(self, timeout: float) -> None:
        """Let the runs ``start_fired`` handed over start before recording them.

        Waits (real seconds, at most ``timeout``) until the workers took them:
        meanwhile this thread, which would write the ledger, leaves them the
        interpreter (a commit here delayed a lone run's first line by 0.4 ms).
        """
        self._outcomes.flush()

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

    def _release(self, function_name: str) -> None:
        self._running[function_name] -= 1
        self._in_flight -= 1

    def _release_slots(self, function_names: Sequence[str]) -> None:
        with self._lock:
            for name in function_names:
                self._release(name)
            admitted = self._admit_waiting()
            self._lock.notify_all()
        self._start(admitted)

    # -- running -----------------------------------------------------------

    def _start(self, admitted: Sequence[tuple[Tick, datetime]]) -> None:
        """Open the attempts in one transaction, then hand each to a worker thread."""
        runnable = self._runnable(admitted, self._clock.now())
        if runnable:
            self._launch(runnable, self._ledger.begin_attempts(*self._begin_args(runnable)))

    def _runnable(self, admitted: Sequence[tuple[Tick, datetime]], now: datetime) -> list[Runnable]:
        """The admitted ticks that may still run, with their lateness; buries the others."""
        runnable: list[Runnable] = []
        for tick, due in admitted:
            function = self._lookup(tick.function)
            if function is None:
                self._bury(tick, now, "the function no longer exists in the app")
            elif is_expired(tick, function.settings, now):
                self._bury(tick, now, "older than maximum_event_age before it could run")
            else:
                lateness = max(0.0, (now - due).total_seconds() / self._clock.speed * 1000.0)
                runnable.append((tick, function, lateness))
        return runnable

    def _begin_args(self, runnable: Sequence[Runnable]) -> tuple[list[Tick], datetime, list[float]]:
        return [r[0] for r in runnable], self._clock.now(), [r[2] for r in runnable]

    def _launch(self, runnable: Sequence[Runnable], numbers: Sequence[int]) -> None:
        for (tick, function, lateness), number in zip(runnable, numbers, strict=True):
            self._pool.submit(self._attempt, tick, function, number, lateness)

    def _attempt(
        self,
        tick: Tick,
        function: Function,
        number: int,
        lateness_ms: float,
        event: Event | None = None,
    ) -> None:
        try:
            result = self.invoke(function.spec, tick, event=event)
            ended = self._clock.now()
            decision = after_attempt(tick, result.outcome, function.settings, ended)
        except Exception:
            # An invoker error is a crashed result (``invoke``): this is a bug.
            log.exception("unexpected error running %s", tick.function)
            self._release_slots([tick.function])
            return
        self._outcomes.put(RunReport(tick, number, lateness_ms, result, decision, ended))

    def _settle(self, fired: Sequence[Fired], batch: Sequence[RunReport]) -> None:
        """Record fires, finished runs and the runs taking their slots, in one commit.

        Then log them and tell the runtime; the finished runs' slots are
        released last: once none is taken, everything about the finished runs
        has happened (``wait_idle`` relies on it).
        """
        names = [report.tick.function for report in batch]
        with self._lock:
            for name in names:
                self._release(name)
            admitted = self._admit_waiting()
            for name in names:  # still held until the runtime has been told
                self._take_slot(name)
        runnable = self._runnable(admitted, self._clock.now())
        numbers: list[int] | None = None
        try:
            numbers = self._ledger.finish_and_begin(
                [report.end for report in batch], *self._begin_args(runnable), fired=fired
            )
        except Exception:
            # The attempts stay "running" (or the fired ticks "pending"): the
            # next start retries them.
            log.exception("could not record %d outcome(s) in the ledger", len(batch))
        for report in batch:
            try:
                self._report(report)
                self._on_finished(report)
            except Exception:
                log.exception("error after recording %s", report.tick.function)
        try:
            if numbers is not None:
                self._launch(runnable, numbers)
            elif runnable:
                self._launch(runnable, self._ledger.begin_attempts(*self._begin_args(runnable)))
        finally:
            self._release_slots(names)

    def run_now(
        self, function: Function, tick: Tick, options: InvokeOptions | None = None
    ) -> RunReport:
        """A synchronous invocation (RequestResponse): no limits, no retries."""
        started = self._clock.now()
        number = self._ledger.begin_attempts([tick], started, [0.0])[0]
        result = self.invoke(function.spec, tick, options)
        state = TickState.SUCCEEDED if result.succeeded else TickState.FAILED
        decision = Decision(state)
        self._ledger.finish_attempt(tick.id, number, AttemptEnd(result, self._clock.now(), state))
        report = RunReport(tick, number, 0.0, result, decision)
        self._report(report)
        return report

    def add_report_listener(self, listener: Callable[[RunReport], None]) -> None:
        """Told of every finished attempt, scheduled or synchronous (the metrics)."""
        self._report_listeners.append(listener)

    def report(self, report: RunReport) -> None:
        """Log an attempt run elsewhere (replay's workers) and tell the report listeners."""
        self._report(report)

    @property
    def overall_limit(self) -> int | None:
        return self._overall_limit

    @property
    def build_event(self) -> EventFactory:
        return self._build_event

    def _report(self, report: RunReport) -> None:
        log_run(report)
        for listener in self._report_listeners:
            listener(report)

    def _bury(self, tick: Tick, now: datetime, reason: str) -> None:
        self._ledger.set_state(tick.id, TickState.DEAD, now)
        log_buried(tick, reason)
        try:
            self._on_dead(tick, reason)
        finally:
            self._release_slots([tick.function])

    def event_of(self, spec: FunctionSpec, tick: Tick) -> Event:
        """The event every attempt of ``tick`` gets (built ahead for a tick written ahead)."""
        if tick.event is not None:
            return tick.event
        return self._build_event(spec, tick.scheduled_at, tick.event_id)

    def invoke(
        self,
        spec: FunctionSpec,
        tick: Tick,
        options: InvokeOptions | None = None,
        event: Event | None = None,
    ) -> InvocationResult:
        """One invocation of ``tick``'s event; an invoker error counts as a crash.

        Every attempt of a tick is the same delivery: the same event ``id``
        and the same ``aws_request_id``, as in Lambda's asynchronous retries.
        ``event``: the tick's event, when it was built ahead.
        """
        if event is None:
            event = self.event_of(spec, tick)
        request_id = tick.request_id or str(uuid.uuid4())
        started = self._clock.now().timestamp()
        try:
            return self._invoker.invoke(spec, event, request_id, options)
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
