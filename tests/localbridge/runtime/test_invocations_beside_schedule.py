"""An invocation of a scheduled instant never stands in for the scheduled tick.

In AWS a function invoked by hand at the time its rule fires still gets the
rule's event: the schedule, its catch-up and a replay of the period run the
instant whatever was invoked, and a failed invocation stays the caller's
failure (nothing retries it) beside the scheduled run.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

from localbridge.clock import SystemClock
from localbridge.ledger.store import Ledger
from localbridge.runtime.replay import replay
from localbridge.ticks import Tick, TickSource, TickState
from tests.localbridge.runtime.harness import (
    FLAKY,
    HOURLY,
    T0,
    manual_clock,
    started_runtime,
    write_project,
)
from tests.support import PROCESS_START_S, wait_for

MIDNIGHT = T0.replace(second=0)
ONE_AM = MIDNIGHT + timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def scheduled_tick_done(ledger: Ledger, function: str, instant: datetime) -> Tick:
    """The scheduled tick of ``function`` at ``instant``, once it succeeded."""

    def done() -> Tick | None:
        return next(
            (
                t
                for t in ledger.find(function)
                if t.scheduled_at == instant
                and t.source is TickSource.SCHEDULE
                and t.state is TickState.SUCCEEDED
            ),
            None,
        )

    return wait_for(done, PROCESS_START_S, f"{function}'s scheduled tick at {instant}")


def test_the_schedule_fires_an_instant_a_failed_invoke_of_it_left_failed(tmp_path: Path) -> None:
    flag = tmp_path / "down"
    flag.touch()
    project = write_project(tmp_path / "p", FLAKY, environment={"FAIL_FLAG": str(flag)})
    clock = manual_clock()
    first = MIDNIGHT + MINUTE
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        failed = runtime.invoke_now("flaky", at=first)
        assert failed.decision.state is TickState.FAILED
        flag.unlink()
        clock.set(first)
        scheduled = scheduled_tick_done(runtime.ledger, "flaky", first)
        assert scheduled.id != failed.tick.id
        by_hand = runtime.ledger.get(failed.tick.id)
        assert by_hand is not None
        assert (by_hand.state, by_hand.source, by_hand.attempts) == (
            TickState.FAILED,
            TickSource.INVOKE,
            1,
        )


def test_a_replay_runs_the_instants_an_invoke_ran(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    end = MIDNIGHT + timedelta(hours=3)
    with started_runtime(
        project, tmp_path / "l.db", SystemClock(), start=False, fire_schedules=False
    ) as runtime:
        runtime.prepare()
        assert runtime.invoke_now("hourly", at=ONE_AM).result.succeeded
        summary = replay(runtime, ["hourly"], MIDNIGHT, end, threading.Event())
        assert summary.states == {TickState.SUCCEEDED: 3}
        assert summary.already_done == 0
        ticks = [(t.scheduled_at, t.source) for t in runtime.ledger.find("hourly")]
        assert sorted(ticks) == [
            (ONE_AM, TickSource.INVOKE),
            (ONE_AM, TickSource.REPLAY),
            (ONE_AM + timedelta(hours=1), TickSource.REPLAY),
            (ONE_AM + timedelta(hours=2), TickSource.REPLAY),
        ]


def test_catch_up_runs_a_missed_instant_an_invoke_ran_while_down(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ledger_path = tmp_path / "l.db"
    with started_runtime(project, ledger_path, manual_clock()):
        pass  # up at 00:00:30, then down
    # While down, `localbridge invoke hourly --time 01:00`.
    with started_runtime(
        project, ledger_path, manual_clock(), start=False, fire_schedules=False
    ) as runtime:
        runtime.prepare()
        assert runtime.invoke_now("hourly", at=ONE_AM).result.succeeded
    # Back at 01:30:30: the missed 01:00 is caught up, the invocation beside it.
    back = manual_clock(T0 + timedelta(hours=1, minutes=30))
    with started_runtime(project, ledger_path, back) as runtime:
        scheduled_tick_done(runtime.ledger, "hourly", ONE_AM)
        at_one = [t for t in runtime.ledger.find("hourly") if t.scheduled_at == ONE_AM]
        assert sorted(t.source for t in at_one) == [TickSource.INVOKE, TickSource.SCHEDULE]
