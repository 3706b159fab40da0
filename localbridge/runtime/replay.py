"""Replay (backfill) and redrive: run a set of ticks through the ledger to the end.

``replay`` records every scheduled instant in (start, end] for the chosen
functions - rates anchored at ``start`` - and runs each that has not yet
succeeded, oldest first, with the functions' retry settings. Because it goes
through the ledger, an interrupted replay re-run with the same arguments picks
up where it stopped and never invokes a succeeded tick again. ``redrive`` does
the same for dead-lettered ticks, with their original scheduled time.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from localbridge.runtime.catchup import missed_instants
from localbridge.runtime.loop import Runtime
from localbridge.schedules import parse_schedule
from localbridge.ticks import FINAL_STATES, NewTick, Tick, TickSource, TickState


class Progress(Protocol):
    """What a batch reports its progress to (the CLI's progress bar)."""

    def start(self, already_done: int = 0) -> None: ...

    def advance(self, failed: bool = False) -> None: ...

    def finish(self) -> None: ...


ProgressFactory = Callable[[int], Progress]
"""Given the batch's number of ticks, the ``Progress`` to report to."""


@dataclass(frozen=True)
class BatchSummary:
    states: Counter[TickState]
    """Final (or, if stopped early, current) states of the batch's ticks."""
    already_done: int
    """Ticks that had succeeded before this run and were not invoked again."""

    @property
    def ok(self) -> bool:
        return set(self.states) <= {TickState.SUCCEEDED}


class _Completion:
    """Tracks a set of ticks until each reaches a final state."""

    def __init__(self, tick_ids: Iterable[int], progress: Progress | None) -> None:
        self._outstanding = set(tick_ids)
        self._progress = progress
        self._condition = threading.Condition()

    def __call__(self, tick: Tick, state: TickState) -> None:
        if state not in FINAL_STATES:
            return
        with self._condition:
            if tick.id not in self._outstanding:
                return
            self._outstanding.discard(tick.id)
            self._condition.notify_all()
        if self._progress is not None:
            self._progress.advance(failed=state is not TickState.SUCCEEDED)

    def wait(self, stop: threading.Event, poll: float = 0.2) -> bool:
        """True once every tick is final; False if ``stop`` was set first."""
        with self._condition:
            while self._outstanding:
                if stop.is_set():
                    return False
                # Bounded so a stop request (Ctrl-C) is noticed promptly.
                self._condition.wait(poll)
        return True


def replay_instants(
    runtime: Runtime, names: Sequence[str], start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    """Every (instant, function) in (start, end], oldest first."""
    instants: list[tuple[datetime, str]] = []
    for name in names:
        function = runtime.function(name)
        assert function is not None
        schedule = parse_schedule(function.spec.expression, anchor=start)
        instants.extend((instant, name) for instant in missed_instants(schedule, start, end))
    return sorted(instants)


def _drive(
    runtime: Runtime,
    to_run: Sequence[Tick],
    already_done: int,
    stop: threading.Event,
    progress: Progress | None,
) -> bool:
    completion = _Completion((tick.id for tick in to_run), progress)
    runtime.add_listener(completion)
    if progress is not None:
        progress.start(already_done)
    runtime.start()  # resumes every pending tick in the ledger, these included
    try:
        return completion.wait(stop)
    finally:
        if progress is not None:
            progress.finish()


def replay(
    runtime: Runtime,
    names: Sequence[str],
    start: datetime,
    end: datetime,
    stop: threading.Event,
    progress: ProgressFactory | None = None,
) -> BatchSummary:
    """Run every tick of ``names`` in (start, end] that has not succeeded yet."""
    runtime.prepare()
    now = runtime.clock.now()
    planned = replay_instants(runtime, names, start, end)
    runtime.ledger.add_ticks(
        [NewTick(name, instant, TickSource.REPLAY, now) for instant, name in planned], now
    )
    ticks = runtime.ledger.ticks_between(names, start, end)
    finished = [
        t.id for t in ticks if t.state in FINAL_STATES and t.state is not TickState.SUCCEEDED
    ]
    runtime.ledger.reopen(finished, TickSource.REPLAY, now)
    to_run = [t for t in ticks if t.state is not TickState.SUCCEEDED]
    done = len(ticks) - len(to_run)
    _drive(runtime, to_run, done, stop, None if progress is None else progress(len(ticks)))
    states = Counter(t.state for t in runtime.ledger.ticks_between(names, start, end))
    return BatchSummary(states, done)


def redrive(runtime: Runtime, dead: Sequence[Tick], stop: threading.Event) -> BatchSummary:
    """Run dead-lettered ticks again, with their original scheduled time."""
    runtime.prepare()
    reopened = runtime.ledger.reopen([t.id for t in dead], TickSource.REDRIVE, runtime.clock.now())
    _drive(runtime, reopened, 0, stop, None)
    states = Counter(t.state for t in (runtime.ledger.get(tick.id) for tick in reopened) if t)
    return BatchSummary(states, 0)
