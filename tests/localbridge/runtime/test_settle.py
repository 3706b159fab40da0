"""The settler: a fire recorded once its runs began, batches, retries to the loop, stop."""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from localbridge.clock import ManualClock, Wakeup
from localbridge.events import make_event_factory
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions, Outcome
from localbridge.runtime import settle
from localbridge.runtime.dispatch import Dispatcher, FireStarted
from localbridge.runtime.faults import Faults, RuntimeFaultError
from localbridge.runtime.observers import Observers
from localbridge.runtime.settle import Retry, Settler
from localbridge.ticks import AttemptEnd, Decision, Fired, RunReport, Tick, TickState
from tests.localbridge.runtime.reports import run_report

AT = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)
WAIT_S = 10.0
"""Deadline of a wait on another thread of this test (it is reached in microseconds)."""


class Batches(Ledger):
    """A real ledger that also keeps what each group commit held: (fires, tick ids)."""

    batches: list[tuple[int, list[int]]]
    refuse: BaseException | None = None
    """Raised by every group commit when set: the disk filled up, say."""

    def finish_and_begin(
        self,
        finished: Sequence[tuple[int, int, AttemptEnd]],
        ticks: Sequence[Tick],
        started_at: datetime,
        lateness_ms: Sequence[float],
        fired: Sequence[Fired] = (),
    ) -> list[int]:
        if self.refuse is not None:
            raise self.refuse
        if finished or fired:
            self.batches.append((len(fired), [tick_id for tick_id, _, _ in finished]))
        return super().finish_and_begin(finished, ticks, started_at, lateness_ms, fired)


class NoInvoker:
    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        raise AssertionError("nothing runs in these tests")

    def reload(self) -> None: ...

    def close(self) -> None: ...


class WatchedEvent(threading.Event):
    """An event that says when someone began waiting for it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.set()
        return super().wait(timeout)


SUCCEEDED = Decision(TickState.SUCCEEDED)


def report(tick_id: int, decision: Decision = SUCCEEDED) -> RunReport:
    result = InvocationResult(Outcome.SUCCEEDED, 10.0, 10.001)
    return replace(run_report(tick_id, f"f{tick_id}", AT, result, decision), ended_at=AT)


Parts = tuple[Settler, Dispatcher, Batches, queue.SimpleQueue[Retry]]


@contextmanager
def settler(
    tmp_path: Path,
) -> Iterator[tuple[Settler, Dispatcher, Batches, queue.SimpleQueue[Retry]]]:
    ledger = Batches.open(tmp_path / "l.db")
    ledger.batches = []
    observers = Observers([])
    clock = ManualClock(AT)
    faults = Faults(ledger.path)
    dispatcher = Dispatcher(
        ledger, NoInvoker(), clock, lambda name: None, make_event_factory(), observers, faults
    )
    retries: queue.SimpleQueue[Retry] = queue.SimpleQueue()
    made = Settler(ledger, dispatcher, observers, retries, Wakeup(), faults)
    try:
        yield made, dispatcher, ledger, retries
    finally:
        made.stop()
        ledger.close()


def test_a_fire_is_recorded_once_its_runs_began_with_the_outcomes_that_came_meanwhile(
    tmp_path: Path,
) -> None:
    with settler(tmp_path) as (made, dispatcher, ledger, _):
        began = WatchedEvent()
        made.start()
        dispatcher.done.put(FireStarted(Fired([], AT, []), began))
        assert began.waited.wait(WAIT_S)  # the settler holds the fire until its runs began
        dispatcher.done.put(report(1))
        dispatcher.done.put(report(2))
        began.set()
        made.stop()
        assert ledger.batches == [(1, [1, 2])]


def test_a_refused_group_commit_is_the_runtimes_fault_and_the_slots_come_back(
    tmp_path: Path,
) -> None:
    with settler(tmp_path) as (made, dispatcher, ledger, _):
        faults = made._faults
        stopped: list[bool] = []
        faults.on_fault(lambda: stopped.append(True))
        ledger.refuse = sqlite3.OperationalError("database or disk is full")
        with dispatcher._lock:
            dispatcher._in_flight, dispatcher._running["f1"] = 1, 1  # the run's slot
        made.start()
        dispatcher.done.put(report(1))
        assert faults.occurred.wait(WAIT_S)
        assert stopped == [True]
        assert dispatcher.wait_idle(WAIT_S)  # the stop's grace is not spent on it
        with pytest.raises(RuntimeFaultError, match=r"disk is full; .* start again"):
            faults.raise_if_any()
        ledger.refuse = None


def test_batches_are_cut_at_the_limit_and_a_stop_settles_what_came_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settle, "BATCH_LIMIT", 2)
    with settler(tmp_path) as (made, dispatcher, ledger, _):
        for tick_id in range(1, 6):
            dispatcher.done.put(report(tick_id))
        made.start()
        made.stop()
        assert ledger.batches == [(0, [1, 2]), (0, [3, 4]), (0, [5])]


def test_a_retry_goes_to_the_loop_after_the_listeners_were_told(tmp_path: Path) -> None:
    with settler(tmp_path) as (made, dispatcher, _, retries):
        later = AT + timedelta(minutes=1)
        told: list[tuple[int, TickState, bool]] = []
        made.observers.listeners.append(
            lambda tick, state: told.append((tick.id, state, retries.empty()))
        )
        made.start()
        dispatcher.done.put(report(1, Decision(TickState.RETRYING, later, "retry 1 at")))
        tick, instant = retries.get(timeout=WAIT_S)
        assert (tick.id, instant) == (1, later)
        assert told == [(1, TickState.RETRYING, True)]
        assert made.wake_loop.is_set
