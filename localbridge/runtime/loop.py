"""The runtime loop: fire every scheduled function at its instants, durably.

One tick's path, top-down, data flowing one way:

1. arm (``firing.arm``): shortly before an instant T, the loop writes T's
   ticks to the ledger as ``pending`` and builds their events;
2. wait: the loop waits on the ``Clock`` for T (or a retry, or a wake-up);
3. fire (``Dispatcher.start_fired``): at T the runs go to worker threads,
   and the fire (``FireStarted``) to the dispatcher's ``done`` queue; the
   loop lets the runs begin before it goes on;
4. settle (``settle.Settler``, its own thread): each run's report comes
   through ``done``; the fire, then the outcomes, are recorded in one
   commit, the run log line is written, listeners are told, a retry goes
   back to the loop through its ``retries`` queue, and the slots are freed.

The loop keeps a heap of what is due next - each function's next fire
instant and each tick waiting for a retry. The ledger is the source of
truth: on start the runtime recovers runs a crash interrupted, catches up on
ticks missed while it was down (per function policy) and resumes pending and
retrying ticks.

Other parts drive it through ``invoke_now`` (a synchronous invocation),
``enqueue_event`` (an asynchronous one, retried like a scheduled tick),
``run_ticks`` (replay, redrive) and ``reload``.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import queue
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime

from localbridge.abc import Clock, EventFactory, Invoker
from localbridge.clock import Wakeup
from localbridge.ledger import Ledger
from localbridge.model import FunctionSpec
from localbridge.runtime.catchup import catch_up_ticks, moved_marks
from localbridge.runtime.dispatch import Dispatcher
from localbridge.runtime.driving import Invocations
from localbridge.runtime.faults import Faults
from localbridge.runtime.firing import (
    Armed,
    arm,
    arm_lead,
    next_wake,
    plan_at_instant,
    pop_instant,
    real_seconds_until,
)
from localbridge.runtime.functions import (
    Due,
    Function,
    UnknownFunctionError,
    anchored_schedule,
    new_rule_mark,
)
from localbridge.runtime.invocations import INSTANT
from localbridge.runtime.observers import Listener, Observers, ReportListener
from localbridge.runtime.pausing import FireGate
from localbridge.runtime.settle import Retry, Settler
from localbridge.ticks import FunctionMark, Tick, TickSource, TickState

log = logging.getLogger("localbridge")


class Runtime(Invocations):
    """Fires, runs and retries ticks; see the module docstring."""

    def __init__(
        self,
        ledger: Ledger,
        invoker: Invoker,
        clock: Clock,
        functions: Sequence[FunctionSpec],
        build_event: EventFactory,
        *,
        fire_schedules: bool = True,
        max_workers: int = 256,
        overall_limit: int | None = None,
        listeners: Sequence[Listener] = (),
        fire_until: datetime | None = None,
    ) -> None:
        self.ledger = ledger
        self.invoker = invoker
        self.clock = clock
        self._fire_schedules = fire_schedules
        self.build_event = build_event
        self.observers = Observers(list(listeners))
        self.faults = Faults(ledger.path)
        """The fault that stops this runtime, if one came (``faults``)."""
        self.gate = FireGate(ledger.path, fire_until)
        self._lock = threading.RLock()
        self._wakeup = Wakeup()
        self._heap: list[Due] = []
        self._order = itertools.count()
        self._functions: dict[str, Function] = {}
        self._generations: dict[str, int] = {}
        self._marks: dict[str, FunctionMark] = {}
        self._configured = list(functions)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._prepared = False
        self._fire_from = clock.started_at
        self._unsaved_marks: list[FunctionMark] = []
        self._armed: Armed | None = None  # the loop thread's alone
        self._retries: queue.SimpleQueue[Retry] = queue.SimpleQueue()
        """Ticks to attempt again (from the settler, and on start), for the loop's heap."""
        self.dispatcher = Dispatcher(
            ledger,
            invoker,
            clock,
            self.function,
            build_event,
            self.observers,
            self.faults,
            max_workers=max_workers,
            overall_limit=overall_limit,
        )
        self._settler = Settler(
            ledger, self.dispatcher, self.observers, self._retries, self._wakeup, self.faults
        )
        self.faults.on_fault(self._halt)

    # -- the function table --------------------------------------------------

    def function(self, name: str) -> Function | None:
        with self._lock:
            return self._functions.get(name)

    def functions(self) -> list[Function]:
        with self._lock:
            return list(self._functions.values())

    def _require(self, name: str) -> Function:
        function = self.function(name)
        if function is None:
            known = ", ".join(sorted(self._functions)) or "none"
            raise UnknownFunctionError(f"no scheduled function {name!r} (known: {known})")
        return function

    def _install(self, spec: FunctionSpec, created: datetime) -> Function:
        """Anchor and register a function; its rule is "created" at ``created`` on first sight."""
        mark = self._marks.get(spec.name)
        if mark is None or mark.expression != spec.expression:
            mark = new_rule_mark(spec, created, mark)
            self._marks[spec.name] = mark
            self._unsaved_marks.append(mark)
        function = Function(spec, anchored_schedule(spec.expression, mark.anchor))
        self._functions[spec.name] = function
        self._generations[spec.name] = self._generations.get(spec.name, 0) + 1
        return function

    def _save_new_marks(self) -> None:
        """Record newly "created" rules (one transaction for all of them).

        Only a runtime that fires schedules creates rules: an invocation or a
        replay is not a scheduled tick and moves no schedule's state."""
        marks, self._unsaved_marks = self._unsaved_marks, []
        if marks and self._fire_schedules:
            self.ledger.save_function_marks(marks)

    def _push_next_fire(self, function: Function, after: datetime) -> None:
        if not self._fire_schedules:
            return
        upcoming = function.schedule.next_fire_times(after, 1)
        if upcoming and self.gate.open_at(upcoming[0]):
            generation = self._generations[function.name]
            entry = Due(upcoming[0], next(self._order), function.name, None, generation)
            heapq.heappush(self._heap, entry)

    # -- starting ----------------------------------------------------------

    def prepare(self) -> None:
        """Recover interrupted runs, register the functions and (when firing) catch up.

        Nothing runs yet; ``start`` does that. Idempotent.
        """
        with self._lock:
            if self._prepared:
                return
            # Refused (LedgerBusyError) when this fires schedules and a live
            # run already does: two would run every tick twice.
            self.ledger.claim(drives=self._fire_schedules)
            self._prepared = True
        self._settler.start()
        now = self.clock.now()
        recovered = self.ledger.recover_interrupted(now)
        if recovered:
            log.info(f"recovered {recovered} run(s) interrupted by the last stop; retrying them")
        # Every instant at or after the clock's start fires, however far the
        # clock ran while loading: at --speed 14400 a few milliseconds of
        # start-up are minutes of schedule.
        started = min(self.clock.started_at, now)
        with self._lock:
            self._marks = self.ledger.function_marks()
            previous = dict(self._marks)
            for spec in self._configured:
                self._install(spec, started)
            self._save_new_marks()
            if self._fire_schedules:
                self._catch_up(previous, started - INSTANT)
        self._fire_from = started - INSTANT

    def start(self, resume: bool = True) -> None:
        """``prepare``, resume unfinished ticks, then start firing.

        Unfinished ticks are the driving run's: a process beside a live ``run``
        leaves them to it; replay and redrive run their own (``resume=False``).
        """
        self.prepare()
        with self._lock:
            # From the clock's start, not the schedule's marks: a clock behind
            # an earlier run's (2022 after 2026) still fires every instant the
            # ledger lacks; those it holds are not run twice (``_record_fires``).
            for function in self._functions.values():
                self._push_next_fire(function, self._fire_from)
        if resume and (self._fire_schedules or self.ledger.live_driver() is None):
            self._resume_unfinished()
        self._thread = threading.Thread(target=self._loop, name="localbridge-loop", daemon=True)
        self._thread.start()

    def _catch_up(self, previous: Mapping[str, FunctionMark], through: datetime) -> None:
        """Record ticks missed while down (per policy) and move every mark to ``through``."""
        active, window = self.gate.catch_up_window(
            self._functions.values(), through, bool(previous)
        )
        new_ticks = catch_up_ticks(active, previous, window, self.build_event)
        marks = moved_marks(self._marks, self._functions, through)
        self.ledger.add_ticks(new_ticks, self.clock.now(), marks)
        self._marks.update({mark.name: mark for mark in marks})

    def _resume_unfinished(self) -> None:
        """Pending ticks run now (oldest first); retrying ones at their retry time.

        A scheduled tick written ahead of an instant that has not come yet runs
        at that instant. One of a function no longer in the app is
        dead-lettered, not left pending.
        """
        now_due = []
        now = self.clock.now()
        for tick in self.ledger.unfinished():
            scheduled = tick.source is TickSource.SCHEDULE
            if tick.state is TickState.RETRYING and tick.next_attempt_at is not None:
                self._schedule_attempt(tick, tick.next_attempt_at)
            elif scheduled and tick.attempts == 0 and tick.scheduled_at > now:
                self._schedule_attempt(tick, tick.scheduled_at)
            else:
                now_due.append((tick, tick.scheduled_at if scheduled else tick.enqueued_at))
        self.dispatcher.submit_many(now_due)

    # -- the loop ----------------------------------------------------------

    def _loop(self) -> None:
        """``_fire_until_stopped``; whatever ends it early is the runtime's fault."""
        try:
            self._fire_until_stopped()
        except Exception as error:
            self.faults.report(error)

    def _halt(self) -> None:
        """On a fault: fire and start nothing more (the ledger holds the rest for a restart).

        Writes waiting for a lock give up, and later ones try once: the
        process stops within seconds, not a lock timeout per write.
        """
        self.ledger.lock_wait.give_up()
        with self._lock:
            self._stopping = True
        self._wakeup.set()
        self.dispatcher.stop_accepting()

    def _fire_until_stopped(self) -> None:
        """Arm, wait, fire - until stopped; the settler's thread settles."""
        while True:
            self._take_retries()
            self._run_due(self.clock.now())
            with self._lock:
                if self._stopping:
                    return
                lead = arm_lead(self.clock.speed, len(self._functions))
                wake = next_wake(self._heap, self._armed, lead)
            self.clock.wait_until(wake, self._wakeup)

    def _run_due(self, now: datetime) -> None:
        """Do what is due at ``now``, earliest first: fire the armed instant once it
        came, start a retry whose time came, arm the next instant once it is
        within ``arm_lead``."""
        while True:
            armed = self._armed
            if armed is not None and armed.instant <= now:
                self._armed = None
                self._fire(armed, now)
                continue
            with self._lock:
                top = self._heap[0] if self._heap else None
                arming = top is not None and top.tick_id is None and armed is None
                lead = arm_lead(self.clock.speed, len(self._functions)) if arming else None
                if top is None or top.instant > (now if lead is None else now + lead):
                    return
                entries = [heapq.heappop(self._heap)] if top.tick_id else pop_instant(self._heap)
            if top.tick_id is not None:
                self._retry(top)
                continue
            armed_now = self._arm(entries, now)
            if armed is None:
                self._armed = armed_now
            else:  # due before the armed instant (a reload): fire at once
                self._fire(armed_now, now)

    def _take_retries(self) -> None:
        """Put the ticks to attempt again that the settler handed over on the heap."""
        while True:
            try:
                tick, instant = self._retries.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                heapq.heappush(self._heap, Due(instant, next(self._order), tick.function, tick.id))

    def _retry(self, entry: Due) -> None:
        retry = None if entry.tick_id is None else self.ledger.get(entry.tick_id)
        if retry is not None and retry.state in (TickState.RETRYING, TickState.PENDING):
            self.dispatcher.submit(retry, entry.instant)

    def _current(self, entries: Sequence[Due]) -> dict[str, Function]:
        """The functions of fire entries not removed or rescheduled since they were queued."""
        return {
            entry.function: self._functions[entry.function]
            for entry in entries
            if entry.function in self._functions
            and entry.generation == self._generations[entry.function]
        }

    def _arm(self, entries: list[Due], now: datetime) -> Armed:
        """Write an instant's ticks ahead of it, plan its fire, queue the next fires."""
        with self._lock:
            current = self._current(entries)
            for function in current.values():
                self._push_next_fire(function, entries[0].instant)
            table, marks = self._functions, dict(self._marks)
        live = [entry for entry in entries if entry.function in current]
        paused = self.gate.pauses.paused()
        instant, build = entries[0].instant, self.build_event
        return arm(self.ledger, instant, live, current, paused, now, build, (table, marks))

    def _fire(self, armed: Armed, now: datetime) -> None:
        """Start an armed instant's ticks (recorded after they start) and move the marks.

        An instant the ledger already held (an earlier run's tick) is not run
        twice; an invocation of that instant holds nothing (``invocations``).
        """
        paused = self.gate.pauses.paused()
        with self._lock:
            current = functools.partial(self._current, armed.entries)
            plan, marks = plan_at_instant(armed, self._functions, current, self._marks, paused)
        began = self.dispatcher.start_fired(
            plan.runs, armed.instant, plan.events, marks, plan.dropped
        )
        with self._lock:
            upcoming = self._heap[0].instant if self._heap else None
        began.wait(real_seconds_until(upcoming, now, self.clock.speed))
        if plan.late:
            added = self.ledger.add_ticks(plan.late, now)
            self.dispatcher.submit_many([(tick, tick.scheduled_at) for tick in added])

    def _schedule_attempt(self, tick: Tick, instant: datetime) -> None:
        self._retries.put((tick, instant))
        self._wakeup.set()

    # -- driving it from outside -------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Told of each tick's state after each attempt (or when it expires)."""
        self.observers.listeners.append(listener)

    def add_report_listener(self, listener: ReportListener) -> None:
        """Told of every finished attempt, scheduled or synchronous (the metrics)."""
        self.observers.report_listeners.append(listener)

    def run_ticks(self, ticks: Sequence[Tick]) -> None:
        """Run existing (pending) ticks now, oldest first: replay and redrive."""
        now = self.clock.now()
        ordered = sorted(ticks, key=lambda t: (t.scheduled_at, t.id))
        self.dispatcher.submit_many([(tick, now) for tick in ordered])

    def reload(self, functions: Sequence[FunctionSpec]) -> None:
        """Serve later runs with new code and schedules; runs in flight finish on the old."""
        self.invoker.reload()
        now = self.clock.now()
        with self._lock:
            old = self._functions
            self._functions = {}
            for spec in functions:
                previous = old.get(spec.name)
                if previous is not None and previous.spec.expression == spec.expression:
                    self._functions[previous.name] = Function(spec, previous.schedule)
                    continue
                function = self._install(spec, now)
                self._push_next_fire(function, now - INSTANT)
            self._save_new_marks()
            for name in set(old) - set(self._functions):
                self._generations[name] += 1
        added = sorted(set(self._functions) - set(old))
        removed = sorted(set(old) - set(self._functions))
        log.info(
            f"reloaded: {len(functions)} function(s); "
            f"added {added or '-'}, removed {removed or '-'}"
        )
        self._wakeup.set()

    # -- stopping ----------------------------------------------------------

    def stop(self, grace: float = 10.0) -> bool:
        """Stop firing; let runs in flight finish for ``grace`` real seconds.

        Returns False when some were still running: they stay ``running`` in
        the ledger and the next start retries them.
        """
        with self._lock:
            self._stopping = True
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join()
        self.dispatcher.stop_accepting()
        finished = self.dispatcher.wait_idle(grace)
        if finished:
            self._settler.stop()
            self.dispatcher.close()
        else:
            running = self.dispatcher.in_flight
            log.warning(
                f"{running} run(s) still running after {grace:g} s; the next start retries them"
            )
            if self.faults.occurred.is_set():
                self.faults.not_recorded(running)
        return finished
