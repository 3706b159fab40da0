"""Replay and redrive through the ledger: oldest first, resumable, never twice."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta
from pathlib import Path

from localbridge.clock import ManualClock, SystemClock
from localbridge.runtime.assemble import Mode
from localbridge.runtime.replay import BatchSummary, redrive, replay
from localbridge.ticks import AttemptOutcome, TickSource, TickState
from tests.localbridge.runtime.harness import (
    EVERY_MINUTE,
    FLAKY,
    GATED,
    HOURLY,
    T0,
    started_runtime,
    write_project,
)
from tests.support import PROCESS_START_S, wait_for

START = T0.replace(second=0)
END = START + timedelta(minutes=30)
FAST_RETRIES = {"defaults": {"retry_delays": [0.05, 0.05]}}


def test_replay_runs_every_instant_in_the_half_open_period_oldest_first(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    with started_runtime(
        project, tmp_path / "l.db", SystemClock(), start=False, fire_schedules=False
    ) as runtime:
        summary = replay(runtime, ["every_minute"], START, END, threading.Event())
        ticks = runtime.ledger.find("every_minute", limit=100)
        assert summary.ok
        assert summary.states == {TickState.SUCCEEDED: 30}
        assert [t.scheduled_at for t in ticks] == [
            START + timedelta(minutes=m) for m in range(1, 31)
        ]
        assert {t.source for t in ticks} == {TickSource.REPLAY}


def test_replay_of_several_functions_runs_each_at_its_own_instants(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE, HOURLY)
    end = START + timedelta(hours=3)
    with started_runtime(
        project, tmp_path / "l.db", SystemClock(), start=False, fire_schedules=False
    ) as runtime:
        # Chunks of 16 ticks: the period takes a dozen, one function's run split across them.
        names = ["every_minute", "hourly"]
        summary = replay(runtime, names, START, end, threading.Event(), chunk_size=16)
        assert summary.states == {TickState.SUCCEEDED: 180 + 3}
        hourly = runtime.ledger.find("hourly")
        assert [t.scheduled_at for t in hourly] == [
            START.replace(minute=0) + timedelta(hours=h) for h in range(1, 4)
        ]
        assert len(runtime.ledger.find("every_minute")) == 180


def test_a_replay_run_again_invokes_no_succeeded_tick(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger = tmp_path / "l.db"
    stop = threading.Event()
    # One run at a time, so the stop below lands in the middle of the period.
    with started_runtime(
        project, ledger, SystemClock(), start=False, fire_schedules=False, overall_limit=1
    ) as runtime:

        def stop_after_ten(tick: object, state: TickState) -> None:
            if len(runtime.ledger.find("every_minute", TickState.SUCCEEDED)) >= 10:
                runtime.dispatcher.stop_accepting()  # as a kill would: nothing more starts
                stop.set()

        runtime.add_listener(stop_after_ten)
        first = replay(runtime, ["every_minute"], START, END, stop)
    assert 10 <= first.states[TickState.SUCCEEDED] < 30
    with started_runtime(
        project, ledger, SystemClock(), start=False, fire_schedules=False
    ) as runtime:
        second = replay(runtime, ["every_minute"], START, END, threading.Event())
        assert second.states == {TickState.SUCCEEDED: 30}
        assert second.already_done >= 10
        for tick in runtime.ledger.find("every_minute", limit=100):
            outcomes = [a.outcome for a in runtime.ledger.attempts(tick.id)]
            assert outcomes.count(AttemptOutcome.SUCCEEDED) == 1, tick


def test_dead_ticks_are_redriven_with_their_original_time(tmp_path: Path) -> None:
    flag = tmp_path / "outage"
    flag.touch()
    project = write_project(
        tmp_path / "p", FLAKY, localbridge=FAST_RETRIES, environment={"FAIL_FLAG": str(flag)}
    )
    ledger = tmp_path / "l.db"
    period_end = START + timedelta(minutes=3)
    with started_runtime(
        project, ledger, SystemClock(), start=False, fire_schedules=False
    ) as runtime:
        summary = replay(runtime, ["flaky"], START, period_end, threading.Event())
        assert summary.states == {TickState.DEAD: 3}
        dead = runtime.ledger.find("flaky", TickState.DEAD)
        assert all(t.attempts == 3 for t in dead)
    flag.unlink()  # the outage is over
    with started_runtime(
        project, ledger, SystemClock(), start=False, fire_schedules=False
    ) as runtime:
        summary = redrive(runtime, dead, threading.Event())
        assert summary.states == {TickState.SUCCEEDED: 3}
        for tick in runtime.ledger.find("flaky"):
            assert tick.source is TickSource.REDRIVE
            last = runtime.ledger.attempts(tick.id)[-1]
            assert last.payload == f'{{"time": "{tick.scheduled_at:%Y-%m-%dT%H:%M:%SZ}"}}'


def test_replay_in_worker_processes_keeps_each_runs_event_and_log(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    with started_runtime(
        project, tmp_path / "l.db", SystemClock(), Mode.PROCESS, start=False,
        fire_schedules=False, overall_limit=2,
    ) as runtime:  # fmt: skip
        summary = replay(runtime, ["every_minute"], START, END, threading.Event())
        assert summary.states == {TickState.SUCCEEDED: 30}
        for tick in runtime.ledger.find("every_minute", limit=100):
            (attempt,) = runtime.ledger.attempts(tick.id)
            assert attempt.payload == f'{{"time": "{tick.scheduled_at:%Y-%m-%dT%H:%M:%SZ}"}}'
            assert attempt.logs is not None
            lines = attempt.logs.splitlines()
            assert lines[0] == f"START RequestId: {tick.request_id} Version: $LATEST"
            assert lines[1:3] == [
                f"END RequestId: {tick.request_id}",
                lines[2],  # REPORT, checked below
            ]
            assert lines[2].startswith(f"REPORT RequestId: {tick.request_id}\tDuration: ")
            assert len(lines) == 3


def test_replay_keeps_a_functions_concurrency_limit(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    settings = {"functions": {"gated": {"max_concurrency": 1}}}
    project = write_project(
        tmp_path / "p", GATED, localbridge=settings, environment={"GATE": str(gate)}
    )
    stop = threading.Event()
    with started_runtime(
        project, tmp_path / "l.db", SystemClock(), start=False, fire_schedules=False,
        overall_limit=4,
    ) as runtime:  # fmt: skip
        summary: list[BatchSummary] = []
        end = START + timedelta(minutes=3)
        thread = threading.Thread(
            target=lambda: summary.append(replay(runtime, ["gated"], START, end, stop))
        )
        thread.start()
        try:
            wait_for(lambda: started(tmp_path) == 1, PROCESS_START_S, "the first run to start")
            # Four workers, three ticks, a limit of one: the others wait for it.
            assert runtime.ledger.counts().get(TickState.RUNNING) == 1
        finally:
            gate.touch()
            thread.join(PROCESS_START_S)
        assert summary[0].states == {TickState.SUCCEEDED: 3}
        attempts = [runtime.ledger.attempts(t.id)[0] for t in runtime.ledger.find("gated")]
        for before, after in itertools.pairwise(attempts):
            assert before.ended_at is not None
            assert after.started_at >= before.ended_at  # one at a time


def started(directory: Path) -> int:
    return len(list(directory.glob("started-*")))


class _LeapingClock(ManualClock):
    """Each reading a minute and a second after the last: every tick outlives a 60 s age."""

    def now(self) -> datetime:
        later = super().now() + timedelta(seconds=61)
        self.set(later)
        return later


def test_ticks_too_old_when_their_turn_comes_are_dead_lettered_without_running(
    tmp_path: Path,
) -> None:
    settings = {"defaults": {"maximum_event_age": 60}}
    project = write_project(tmp_path / "p", EVERY_MINUTE, localbridge=settings)
    clock = _LeapingClock(END + timedelta(days=1))
    with started_runtime(
        project, tmp_path / "l.db", clock, start=False, fire_schedules=False
    ) as runtime:
        summary = replay(runtime, ["every_minute"], START, END, threading.Event())
        assert summary.states == {TickState.DEAD: 30}
        ticks = runtime.ledger.find("every_minute", limit=100)
        assert [t.scheduled_at for t in ticks] == [
            START + timedelta(minutes=m) for m in range(1, 31)
        ]
        assert all(runtime.ledger.attempts(t.id) == [] for t in ticks)
        assert {(t.state, t.source, t.attempts) for t in ticks} == {
            (TickState.DEAD, TickSource.REPLAY, 0)
        }
