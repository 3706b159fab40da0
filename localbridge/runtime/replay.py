"""Replay (backfill) and redrive: run a set of ticks through the ledger to the end.

``replay`` records every scheduled instant in (start, end] for the chosen
functions - rates anchored at ``start`` - and runs each that has not yet
succeeded, oldest first, with the functions' retry settings. Because it goes
through the ledger, an interrupted replay re-run with the same arguments picks
up where it stopped and never invokes a succeeded tick again, nor one that
retention pruned since (an instant in its function's pruned span without a
row: ``ledger.pruning``), which the report counts apart, as handled. ``redrive`` does
the same for dead-lettered ticks, with their original scheduled time.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from localbridge.abc import Progress
from localbridge.ledger.pruning import in_span
from localbridge.runtime.firing import scheduled_tick
from localbridge.runtime.functions import Function
from localbridge.runtime.loop import Runtime
from localbridge.runtime.replay_feed import Feed
from localbridge.runtime.replay_workers import ReplayWorkers
from localbridge.schedules import Schedule, parse_schedule
from localbridge.ticks import FINAL_STATES, NewTick, Tick, TickSource, TickState

log = logging.getLogger("localbridge")

CHUNK = 256
"""Ticks a replay records (and hands to its workers) at a time."""
DEFAULT_CONCURRENCY = 4
"""Runs at once of a replay whose runtime sets no overall limit (the CLI's default)."""
STOP_WAIT_S = 10.0
"""After a stop, how long to wait for the runs in hand before returning."""

ProgressFactory = Callable[[int], Progress]
Planned = tuple[datetime, str]
"""A tick a replay plans: (instant, function)."""
"""Given the batch's number of ticks, the ``Progress`` to report to."""


@dataclass(frozen=True)
class BatchSummary:
    states: Counter[TickState]
    """Final (or, if stopped early, current) states of the batch's ticks."""
    already_done: int
    """Ticks that had succeeded before this run and were not invoked again."""
    pruned: int = 0
    """Instants handled before and pruned since: not run again, and not pending."""

    @property
    def ok(self) -> bool:
        return set(self.states) <= {TickState.SUCCEEDED}


class _Completion:
    """Tracks a set of ticks until each reaches a final state."""

    def __init__(self, progress: Progress | None) -> None:
        self._outstanding: set[int] = set()
        self._progress = progress
        self._condition = threading.Condition()
        self._below = 1

    def add(self, tick_ids: Iterable[int]) -> None:
        """Track these too (before they can run, so no final state is missed)."""
        with self._condition:
            self._outstanding.update(tick_ids)

    def __call__(self, tick: Tick, state: TickState) -> None:
        if state not in FINAL_STATES:
            return
        with self._condition:
            if tick.id not in self._outstanding:
                return
            self._outstanding.discard(tick.id)
            # Wake the waiter only when it has something to do: a wake-up per
            # tick costs a thread switch per run.
            if len(self._outstanding) < self._below:
                self._condition.notify_all()
        if self._progress is not None:
            self._progress.advance(failed=state is not TickState.SUCCEEDED)

    def wait(self, stop: threading.Event, below: int = 1, poll: float = 0.2) -> bool:
        """True once fewer than ``below`` ticks are outstanding; False if ``stop`` came first."""
        with self._condition:
            self._below = below
            while len(self._outstanding) >= below:
                if stop.is_set():
                    return False
                # Bounded so a stop request (Ctrl-C) is noticed promptly.
                self._condition.wait(poll)
        return not stop.is_set()


def replay_instants(
    runtime: Runtime, names: Sequence[str], start: datetime, end: datetime
) -> Iterator[Planned]:
    """Every (instant, function) in (start, end], oldest first, computed as it is read."""
    streams = []
    for name in names:
        function = runtime.function(name)
        assert function is not None
        schedule = parse_schedule(function.spec.expression, anchor=start)
        streams.append(_planned(name, _instants(schedule, start, end)))
    return streams[0] if len(streams) == 1 else heapq.merge(*streams)


def _planned(name: str, instants: Iterator[datetime]) -> Iterator[Planned]:
    # Its own function: a generator expression in the loop would see the last name.
    return ((instant, name) for instant in instants)


def _instants(schedule: Schedule, after: datetime, through: datetime) -> Iterator[datetime]:
    while True:
        batch = schedule.next_fire_times(after, count=CHUNK)
        for instant in batch:
            if instant > through:
                return
            yield instant
        if len(batch) < CHUNK:
            return
        after = batch[-1]


def _chunks(planned: Iterator[Planned], size: int) -> Iterator[list[Planned]]:
    while chunk := list(itertools.islice(planned, size)):
        yield chunk


def _record_chunk(
    runtime: Runtime, chunk: Sequence[Planned], now: datetime
) -> list[Tick | NewTick]:
    """A chunk's ticks to run: new ones, and finished ones not succeeded (reopened).

    A new tick carries the event EventBridge would have sent at its instant:
    the ledger keeps it, and every attempt of the tick is sent that same event.

    New ticks are not written here: the worker that starts one records it
    running with its attempt (``Ledger.finish_and_start``), one statement and
    no transaction of its own. Ticks already pending are not among them:
    ``replay`` runs those first.
    """
    names = sorted({name for _, name in chunk})
    earliest = chunk[0][0] - timedelta(microseconds=1)
    existing = runtime.ledger.ticks_between(names, earliest, chunk[-1][0])
    specs = {name: _function(runtime, name).spec for name in names}
    build, replayed = runtime.build_event, TickSource.REPLAY
    planned = [scheduled_tick(specs[name], at, build, replayed, now) for at, name in chunk]
    if not existing and not runtime.ledger.pruned_spans():
        return list(planned)
    known = {(t.function, t.scheduled_at): t for t in existing}
    spans = runtime.ledger.pruned_spans()
    new = [
        t
        for t in planned
        if (t.function, t.scheduled_at) not in known
        and not in_span(spans, t.function, t.scheduled_at)
    ]
    finished = [
        known[key].id
        for key in ((t.function, t.scheduled_at) for t in planned)
        if key in known
        and known[key].state in FINAL_STATES
        and known[key].state is not TickState.SUCCEEDED
    ]
    return [*new, *runtime.ledger.reopen(finished, TickSource.REPLAY, now)]


def _unfinished_in_period(
    runtime: Runtime, names: Sequence[str], start: datetime, end: datetime
) -> list[Tick]:
    """Pending ticks of the period (an interrupted replay's): they run first.

    A tick still running after recovery is a live process's (a `run` beside
    this replay): it is that process's to finish, not run twice.
    """
    wanted = set(names)
    return [
        t
        for t in runtime.ledger.unfinished()
        if t.function in wanted and start < t.scheduled_at <= end
    ]


def replay(
    runtime: Runtime,
    names: Sequence[str],
    start: datetime,
    end: datetime,
    stop: threading.Event,
    progress: ProgressFactory | None = None,
    chunk_size: int = CHUNK,
) -> BatchSummary:
    """Run every tick of ``names`` in (start, end] that has not succeeded yet.

    The period is planned ``chunk_size`` ticks at a time, at most two chunks
    ahead of the runs, so memory stays flat however long it is; each new tick
    is recorded as its run starts (running, with its attempt, in its batch's
    transaction); ticks that succeeded before are not run again. A thread of
    the ledger's own checkpoints its file meanwhile, so commits only append.
    The runs take place on the runtime's overall limit of ``ReplayWorkers``
    (``DEFAULT_CONCURRENCY`` without one).
    """
    runtime.prepare()
    names = _not_throttled(runtime, names)
    now = runtime.clock.now()
    total = sum(1 for _ in replay_instants(runtime, names, start, end))
    done = runtime.ledger.states_between(names, start, end).get(TickState.SUCCEEDED, 0)
    handled = done + pruned_instants(runtime, names, start, end)
    bar = None if progress is None else progress(total)
    functions = {name: _function(runtime, name) for name in names}
    planned = replay_instants(runtime, names, start, end)
    chunks = (_record_chunk(runtime, chunk, now) for chunk in _chunks(planned, chunk_size))
    feed = Feed(functions, stop, runtime.clock.now, chunks, low=chunk_size)
    feed.add(_unfinished_in_period(runtime, names, start, end))
    if bar is not None:
        bar.start(handled)
    # Only these: other unfinished ticks are the driving run's to resume.
    runtime.start(resume=False)
    workers = ReplayWorkers(runtime, feed, functions, stop, bar)
    with runtime.ledger.checkpoints_aside():
        workers.start(runtime.dispatcher.overall_limit or DEFAULT_CONCURRENCY)
        try:
            feed.wait_done()
        finally:
            # A stop lets each worker end the run in hand (``runtime.stop`` bounds the rest).
            workers.join(None if not stop.is_set() else STOP_WAIT_S)
            if bar is not None:
                bar.finish()
    if feed.failure is not None:
        raise feed.failure
    states = Counter(runtime.ledger.states_between(names, start, end))
    pruned = pruned_instants(runtime, names, start, end)
    # A stop came before they were recorded.
    unrecorded = total - sum(states.values()) - pruned
    if unrecorded > 0:
        states[TickState.PENDING] += unrecorded
    return BatchSummary(states, done, pruned)


def pruned_instants(runtime: Runtime, names: Sequence[str], start: datetime, end: datetime) -> int:
    """How many of ``names``' instants in (start, end] were pruned: in their function's
    pruned span, without a row (rates anchored at ``start``, as replayed)."""
    spans = runtime.ledger.pruned_spans()
    count = 0
    for name in names:
        if name not in spans:
            continue
        first, through = spans[name]
        after, last = max(start, first - timedelta(microseconds=1)), min(end, through)
        if after >= last:
            continue
        schedule = parse_schedule(_function(runtime, name).spec.expression, anchor=start)
        held = runtime.ledger.scheduled_instants(name, after, last)
        count += sum(1 for at in _instants(schedule, after, last) if at not in held)
    return count


def _not_throttled(runtime: Runtime, names: Sequence[str]) -> list[str]:
    """``names`` but those whose reserved concurrency is 0: that throttles every run,
    and a replay would wait for room that never comes."""
    kept = []
    for name in names:
        if _function(runtime, name).settings.max_concurrency == 0:
            log.warning(f"{name} not replayed: its reserved concurrency 0 throttles every run")
        else:
            kept.append(name)
    return kept


def _function(runtime: Runtime, name: str) -> Function:
    function = runtime.function(name)
    assert function is not None, f"no function {name}"
    return function


def redrive(runtime: Runtime, dead: Sequence[Tick], stop: threading.Event) -> BatchSummary:
    """Run dead-lettered ticks again, with their original scheduled time."""
    runtime.prepare()
    reopened = runtime.ledger.reopen([t.id for t in dead], TickSource.REDRIVE, runtime.clock.now())
    completion = _Completion(None)
    completion.add(tick.id for tick in reopened)
    runtime.add_listener(completion)
    # Only these: other unfinished ticks are the driving run's to resume.
    runtime.start(resume=False)
    runtime.run_ticks(reopened)
    completion.wait(stop)
    states = Counter(t.state for t in (runtime.ledger.get(tick.id) for tick in reopened) if t)
    return BatchSummary(states, 0)
