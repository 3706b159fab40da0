"""The outcome writer: batches, runs before records, nothing handed over left behind."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from localbridge.model import InvocationResult, Outcome
from localbridge.runtime.outcomes import OutcomeWriter
from localbridge.ticks import Decision, Fired, RunReport, TickState
from tests.localbridge.runtime.reports import run_report

AT = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)
WAIT_S = 10.0
"""Deadline of a wait on another thread of this test (it is reached in microseconds)."""


def report(tick_id: int) -> RunReport:
    result = InvocationResult(Outcome.SUCCEEDED, 10.0, 10.001)
    return run_report(tick_id, f"f{tick_id}", AT, result, Decision(TickState.RUNNING))


class Recorder:
    """A ``settle`` that records its batches; ``hold`` makes the next call wait."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[Fired], list[int]]] = []
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self, fired: list[Fired], batch: list[RunReport]) -> None:
        self.entered.set()
        hold, self.hold = self.hold, None
        if hold is not None:
            assert hold.wait(WAIT_S)
        self.batches.append((fired, [r.tick.id for r in batch]))


def test_outcomes_wait_while_runs_wait_for_a_thread_then_go_in_one_batch() -> None:
    recorder = Recorder()
    starting = [True]
    writer = OutcomeWriter(recorder, starting=lambda: starting[0])
    fire = Fired([], AT, [])
    writer.queue_fired(fire)
    writer.put(report(1))
    writer.put(report(2))
    assert recorder.batches == []  # runs handed over still wait: nothing written
    starting[0] = False
    writer.put(report(3))
    assert recorder.batches == [([fire], [1, 2, 3])]


def test_what_is_handed_over_while_another_thread_writes_is_written_by_it() -> None:
    recorder = Recorder()
    writer = OutcomeWriter(recorder)
    recorder.hold = hold = threading.Event()
    first = threading.Thread(target=writer.put, args=(report(1),))
    first.start()
    assert recorder.entered.wait(WAIT_S)  # that thread is writing, and holds the role
    writer.put(report(2))  # returns at once: the writer takes it
    assert [ids for _, ids in recorder.batches] == []
    hold.set()
    first.join(WAIT_S)
    assert [ids for _, ids in recorder.batches] == [[1], [2]]


def test_batches_are_cut_at_the_limit_and_a_fire_goes_with_the_first() -> None:
    recorder = Recorder()
    starting = [True]
    writer = OutcomeWriter(recorder, batch_limit=2, starting=lambda: starting[0])
    fire = Fired([], AT, [])
    writer.queue_fired(fire)
    for tick_id in range(1, 6):
        writer.put(report(tick_id))
    starting[0] = False
    writer.flush()
    assert recorder.batches == [([fire], [1, 2]), ([], [3, 4]), ([], [5])]


def test_what_is_handed_over_while_another_thread_decides_to_wait_is_not_left_behind() -> None:
    recorder = Recorder()
    deciding, go = threading.Event(), threading.Event()
    state = {"starting": True, "held": True}

    def starting() -> bool:
        if state["held"] and threading.current_thread() is not threading.main_thread():
            state["held"] = False
            deciding.set()
            assert go.wait(WAIT_S)
            return True  # what it saw: runs still waited for a thread
        return state["starting"]

    writer = OutcomeWriter(recorder, starting=starting)
    first = threading.Thread(target=writer.put, args=(report(1),))
    first.start()
    assert deciding.wait(WAIT_S)  # it holds the role, about to leave the writing for later
    state["starting"] = False  # meanwhile the last run was taken, ran and hands over:
    writer.put(report(2))  # returns at once, the role being taken
    go.set()
    first.join(WAIT_S)
    assert [ids for _, ids in recorder.batches] == [[1, 2]]
