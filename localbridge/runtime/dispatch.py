"""Starting attempts: concurrency limits, the attempt's row, a worker thread per run.

The ``Dispatcher`` takes ticks that are due, opens each one's attempt in the
ledger (in one transaction for the ticks due together) and runs it on a
worker thread as soon as its function's ``max_concurrency`` (and the
optional overall limit) allows; ticks that find a limit reached wait in
order, none is dropped. A function whose limit is 0 (Lambda's reserved
concurrency 0: every invocation throttled) runs nothing: its ticks are held,
tried again with backoff and dead-lettered once too old (``Held``). A run
that ends puts its ``RunReport`` on ``done``, and so does a fire
(``FireStarted``), a held tick and a tick dead-lettered before it could run
(``Buried``): the settler (``settle``) records them, tells the observers
and gives the slots back (``release``). Nothing here calls back: what
happened flows on through ``done``.
"""

from __future__ import annotations

import collections
import itertools
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from localbridge.abc import Clock, EventFactory, Invoker, RunRecorder
from localbridge.events import tick_event
from localbridge.lambda_errors import crashed_result
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions
from localbridge.runtime.faults import Faults
from localbridge.runtime.functions import Function
from localbridge.runtime.observers import Observers
from localbridge.runtime.retries import after_attempt, is_expired, throttled_retry_at
from localbridge.runtime.worker_threads import WorkerThreads
from localbridge.ticks import (
    AttemptEnd,
    Decision,
    Fired,
    FunctionMark,
    RunReport,
    Tick,
    TickState,
)

Waiting = tuple[int, Tick, datetime]
"""A tick waiting for room under a limit: (arrival order, tick, when it was due)."""
Runnable = tuple[Tick, Function, float]
"""An admitted tick about to run: (tick, its function, lateness in ms)."""
Event = Mapping[str, Any]

log = logging.getLogger("localbridge")


@dataclass(frozen=True)
class FireStarted:
    """A fire whose runs were handed to the workers, to record once they began."""

    fired: Fired
    began: threading.Event = field(default_factory=threading.Event)
    """Set by the last of its runs as it begins (at once when it has none)."""


@dataclass(frozen=True)
class Buried:
    """A tick dead-lettered before it could run (already so in the ledger)."""

    tick: Tick
    reason: str


@dataclass(frozen=True)
class Held:
    """A tick throttled (its function's limit is 0), already so in the ledger: to try
    again at ``retry_at``, or, when None, dead-lettered for being too old."""

    tick: Tick
    retry_at: datetime | None


THROTTLED_TOO_LONG = "throttled (reserved concurrency 0) until older than maximum_event_age"

Done = RunReport | FireStarted | Buried | Held
"""What the settler takes from ``Dispatcher.done``."""


class Dispatcher:
    """Runs attempts of due ticks on worker threads, within concurrency limits."""

    def __init__(
        self,
        ledger: RunRecorder,
        invoker: Invoker,
        clock: Clock,
        lookup: Callable[[str], Function | None],
        build_event: EventFactory,
        observers: Observers,
        faults: Faults,
        max_workers: int = 256,
        overall_limit: int | None = None,
    ) -> None:
        self._ledger = ledger
        self._invoker = invoker
        self._clock = clock
        self._lookup = lookup
        self.build_event = build_event
        self._observers = observers
        self._faults = faults
        self.overall_limit = overall_limit
        self._pool = WorkerThreads(max_workers, "localbridge-worker")
        self.done: queue.SimpleQueue[Done | None] = queue.SimpleQueue()
        """Runs that ended, fires and burials, in the order they happened (None: the
        end, put by ``settle.Settler.stop``)."""
        self._lock = threading.Condition()
        self._running: collections.Counter[str] = collections.Counter()
        self._in_flight = 0
        self._waiting: dict[str, collections.deque[Waiting]] = {}
        self._throttled: list[tuple[Tick, Function]] = []
        """Ticks of functions whose limit is 0, to hold (lock held to add)."""
        self._arrivals = itertools.count()
        self._accepting = True

    # -- admission ---------------------------------------------------------

    def submit(self, tick: Tick, due: datetime) -> None:
        self.submit_many([(tick, due)])

    def submit_many(self, entries: Sequence[tuple[Tick, datetime]]) -> None:
        """Start attempts now, or as soon as the limits allow, in the order given.

        ``due`` is when each should have started, for the lateness figure.
        After ``stop_accepting`` nothing starts: the ticks stay pending in the
        ledger and the next start picks them up.
        """
        with self._lock:
            if not self._accepting:
                return
            admitted = [(tick, due) for tick, due in entries if self._admit(tick, due)]
        self._hold_throttled()
        self._start(admitted)

    def start_fired(
        self,
        runs: Sequence[tuple[Tick, Function]],
        due: datetime,
        events: Mapping[int, Event],
        marks: Sequence[FunctionMark] = (),
        dropped: Sequence[int] = (),
    ) -> threading.Event:
        """Start ticks written ahead of their instant ``due``, now: handed to the
        workers at once, their attempts recorded once they began (``FireStarted``,
        with ``marks`` and the ``dropped`` rows). Returns what is set once they began.

        ``events`` holds the events built ahead, by tick id. A tick a limit
        holds waits as any other, and its attempt is opened when it begins.
        """
        fire_began = threading.Event()
        with self._lock:
            if not self._accepting:
                fire_began.set()
                return fire_began  # the ticks stay pending: the next start runs them
            admitted = [(tick, fn) for tick, fn in runs if self._admit(tick, due, fn)]
        self._hold_throttled()
        now = self._clock.now()
        lateness = max(0.0, (now - due).total_seconds() / self._clock.speed * 1000.0)
        ticks = [tick for tick, _ in admitted]
        fired = Fired(ticks, now, [lateness] * len(ticks), marks, dropped)
        fire = FireStarted(fired, fire_began)
        # Queued before any of its runs can end: its record precedes their outcomes.
        self.done.put(fire)
        if not admitted:
            fire.began.set()
        for index, (tick, function) in enumerate(admitted):
            last = fire.began if index == len(admitted) - 1 else None
            event = events.get(tick.id)
            self._hand_over(tick, function, tick.attempts + 1, lateness, event, last)
        return fire.began

    def _admit(self, tick: Tick, due: datetime, function: Function | None = None) -> bool:
        """Take a slot for ``tick``, or queue it behind the limit, or put it aside to
        hold when the limit is 0 (lock held)."""
        function = function or self._lookup(tick.function)
        if function is not None and function.settings.max_concurrency == 0:
            self._throttled.append((tick, function))
            return False
        if self._waiting.get(tick.function) or not self._has_room(tick.function, function):
            entry = (next(self._arrivals), tick, due)
            self._waiting.setdefault(tick.function, collections.deque()).append(entry)
            return False
        self._running[tick.function] += 1
        self._in_flight += 1
        return True

    def _has_room(self, function_name: str, function: Function | None = None) -> bool:
        if self.overall_limit is not None and self._in_flight >= self.overall_limit:
            return False
        function = function or self._lookup(function_name)
        limit = function.settings.max_concurrency if function else None
        return limit is None or self._running[function_name] < limit

    def release(self, function_names: Sequence[str]) -> None:
        """Give back the slots of runs that are over, then start waiting ticks that now fit."""
        with self._lock:
            for name in function_names:
                self._running[name] -= 1
                self._in_flight -= 1
            admitted = self._admit_waiting()
            self._lock.notify_all()
        self._hold_throttled()
        self._start(admitted)

    def _free(self, function_names: Sequence[str]) -> None:
        """Give back slots taken for runs that never began (nothing else starts)."""
        with self._lock:
            for name in function_names:
                self._running[name] -= 1
                self._in_flight -= 1
            self._lock.notify_all()

    def _admit_waiting(self) -> list[tuple[Tick, datetime]]:
        """Take waiting ticks that now fit, oldest first (lock held)."""
        admitted: list[tuple[Tick, datetime]] = []
        self._throttle_waiting()
        while self._accepting:
            heads = [q[0] for name, q in self._waiting.items() if self._has_room(name)]
            if not heads:
                return admitted
            _, tick, due = min(heads, key=lambda entry: entry[0])
            waiting = self._waiting[tick.function]
            waiting.popleft()
            if not waiting:
                del self._waiting[tick.function]
            self._running[tick.function] += 1
            self._in_flight += 1
            admitted.append((tick, due))
        return admitted

    def _throttle_waiting(self) -> None:
        """Put aside the waiting ticks of functions whose limit became 0 (lock held)."""
        for name in list(self._waiting):
            function = self._lookup(name)
            if function is not None and function.settings.max_concurrency == 0:
                self._throttled += [(entry[1], function) for entry in self._waiting.pop(name)]

    def _hold_throttled(self) -> None:
        """Hold the ticks put aside as throttled, as Lambda holds a throttled
        asynchronous event: tried again with backoff (``retries.throttled_retry_at``),
        with no attempt counted, until older than ``maximum_event_age``, then
        dead-lettered. The ledger has each one ``retrying`` (or ``dead``) before
        ``done`` hears of it."""
        with self._lock:
            throttled, self._throttled = self._throttled, []
        now = self._clock.now()
        for tick, function in throttled:
            retry_at = throttled_retry_at(tick, function.settings, now)
            try:
                if retry_at is None:
                    self._ledger.set_state(tick.id, TickState.DEAD, now)
                else:
                    self._ledger.set_state(tick.id, TickState.RETRYING, now, retry_at)
            except Exception as error:
                self._faults.report(error)
                raise
            if retry_at is not None and tick.state is TickState.PENDING:
                log.info(
                    f"{tick.function} throttled (reserved concurrency 0): held, "
                    "tried again until older than maximum_event_age"
                )
            self.done.put(Held(tick, retry_at))

    # -- running -----------------------------------------------------------

    def _start(self, admitted: Sequence[tuple[Tick, datetime]]) -> None:
        """Open the attempts in one transaction, then hand each to a worker thread.

        If the ledger refuses, the runtime's fault is reported, the slots not
        given to a run are freed (the ticks stay pending for the next start)
        and the error goes on to the caller.
        """
        buried: list[str] = []
        try:
            runnable = self._runnable(admitted, self._clock.now(), buried)
            if not runnable:
                return
            ticks, lateness = [r[0] for r in runnable], [r[2] for r in runnable]
            numbers = self._ledger.begin_attempts(ticks, self._clock.now(), lateness)
        except Exception as error:
            self._faults.report(error)
            names = [tick.function for tick, _ in admitted]
            for name in buried:  # their slots come back when the settler takes the burial
                names.remove(name)
            self._free(names)
            raise
        for (tick, function, late), number in zip(runnable, numbers, strict=True):
            self._hand_over(tick, function, number, late)

    def _runnable(
        self, admitted: Sequence[tuple[Tick, datetime]], now: datetime, buried: list[str]
    ) -> list[Runnable]:
        """The admitted ticks that may still run, with their lateness; buries the others
        (their functions' names go to ``buried``)."""
        runnable: list[Runnable] = []
        for tick, due in admitted:
            function = self._lookup(tick.function)
            if function is None:
                self._bury(tick, now, "the function no longer exists in the app")
                buried.append(tick.function)
            elif is_expired(tick, function.settings, now):
                self._bury(tick, now, "older than maximum_event_age before it could run")
                buried.append(tick.function)
            else:
                lateness = max(0.0, (now - due).total_seconds() / self._clock.speed * 1000.0)
                runnable.append((tick, function, lateness))
        return runnable

    def _bury(self, tick: Tick, now: datetime, reason: str) -> None:
        self._ledger.set_state(tick.id, TickState.DEAD, now)
        self.done.put(Buried(tick, reason))

    def _hand_over(
        self,
        tick: Tick,
        function: Function,
        number: int,
        lateness_ms: float,
        event: Event | None = None,
        began: threading.Event | None = None,
    ) -> None:
        self._pool.submit(self._attempt, tick, function, number, lateness_ms, event, began)

    def _attempt(
        self,
        tick: Tick,
        function: Function,
        number: int,
        lateness_ms: float,
        event: Event | None,
        began: threading.Event | None,
    ) -> None:
        """One run, on a worker thread; its report goes to ``done``."""
        if began is not None:
            began.set()
        try:
            result = self.invoke(function.spec, tick, event=event)
        except Exception as error:  # ``invoke`` reports the invoker's errors: a bug's
            log.exception("unexpected error running %s", tick.function)
            result = crashed_result(error, time.time(), time.time())
        ended = self._clock.now()
        decision = after_attempt(tick, result.outcome, function.settings, ended)
        self.done.put(RunReport(tick, number, lateness_ms, result, decision, ended))

    def run_now(
        self, function: Function, tick: Tick, options: InvokeOptions | None = None
    ) -> RunReport:
        """A synchronous invocation (RequestResponse): no limits, no retries."""
        started = self._clock.now()
        try:
            number = self._ledger.begin_attempts([tick], started, [0.0])[0]
        except Exception as error:
            self._faults.report(error)
            raise
        result = self.invoke(function.spec, tick, options)
        state = TickState.SUCCEEDED if result.succeeded else TickState.FAILED
        try:
            self._ledger.finish_attempt(
                tick.id, number, AttemptEnd(result, self._clock.now(), state)
            )
        except Exception as error:
            self._faults.report(error)
            raise
        report = RunReport(tick, number, 0.0, result, Decision(state))
        self._observers.ran(report, tell_state=False)
        return report

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
            event = tick_event(self.build_event, spec, tick)
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

    def close(self) -> None:
        """Let the idle worker threads go (call once idle)."""
        self._pool.shutdown()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight
