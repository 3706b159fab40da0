"""What a start fires: every instant from the clock's start on, whatever ran before.

Only scheduled ticks move a schedule's state: an invocation (``invoke``,
``serve``) or a replay leaves the schedule as it was, and a run whose clock
starts before what an earlier run recorded still fires every instant the
ledger does not hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.ticks import NewTick, TickSource, TickState
from tests.localbridge.runtime.harness import (
    EVERY_MINUTE,
    HOURLY,
    T0,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)

MIDNIGHT = T0.replace(second=0)
ONE_AM = MIDNIGHT + timedelta(hours=1)
LATER = datetime(2026, 11, 23, 4, 33, 7, 449000, tzinfo=UTC)
"""A real "now", years after the virtual clock's 2022."""


def test_an_invocation_does_not_silence_the_schedule(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ledger_path = tmp_path / "l.db"
    # `localbridge invoke hourly` on a fresh ledger, at the real now.
    with started_runtime(
        project, ledger_path, manual_clock(LATER), start=False, fire_schedules=False
    ) as runtime:
        runtime.prepare()
        assert runtime.invoke_now("hourly").decision.state is TickState.SUCCEEDED
        assert runtime.ledger.function_marks() == {}
    # Then `make run` with its virtual clock in 2022.
    clock = manual_clock()
    with started_runtime(project, ledger_path, clock) as runtime:
        clock.set(ONE_AM)
        wait_for_state(runtime.ledger, "hourly", ONE_AM, TickState.SUCCEEDED)
        assert runtime.ledger.function_marks()["hourly"].scheduled_through == ONE_AM


def test_a_run_whose_clock_is_behind_an_earlier_run_fires_what_the_ledger_lacks(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ledger_path = tmp_path / "l.db"
    with started_runtime(project, ledger_path, manual_clock(LATER)):
        pass  # a run on the real clock: the schedule is recorded through 2026
    clock = manual_clock()
    with started_runtime(project, ledger_path, clock) as runtime:
        clock.set(ONE_AM + timedelta(hours=1))
        wait_for_state(runtime.ledger, "hourly", ONE_AM, TickState.SUCCEEDED)
        wait_for_state(runtime.ledger, "hourly", ONE_AM + timedelta(hours=1), TickState.SUCCEEDED)
    # Ticks the ledger holds are not fired again.
    with started_runtime(project, ledger_path, manual_clock()) as runtime:
        assert runtime.dispatcher.wait_idle(10)
        assert [t.attempts for t in runtime.ledger.find("hourly")] == [1, 1]


def test_instants_from_the_clock_start_fire_though_the_clock_ran_on_while_preparing(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "p", HOURLY, EVERY_MINUTE)
    clock = manual_clock(MIDNIGHT)  # a virtual clock started at 00:00:00 exactly
    with started_runtime(project, tmp_path / "l.db", clock, start=False) as runtime:
        # At --speed 172800 the few milliseconds of a start are minutes.
        clock.set(MIDNIGHT + timedelta(minutes=2, seconds=30))
        runtime.start()
        wait_for_state(runtime.ledger, "hourly", MIDNIGHT, TickState.SUCCEEDED)
        for minute in range(3):
            instant = MIDNIGHT + timedelta(minutes=minute)
            wait_for_state(runtime.ledger, "every_minute", instant, TickState.SUCCEEDED)
        sources = {t.source for t in runtime.ledger.find("every_minute")}
        assert sources == {TickSource.SCHEDULE}


def test_a_new_rule_is_anchored_at_the_clock_start(tmp_path: Path) -> None:
    rate = "\n@app.schedule(Rate(2, unit=Rate.MINUTES))\ndef every_two(event):\n    return 1\n"
    project = write_project(tmp_path / "p", rate)
    clock = manual_clock(MIDNIGHT + timedelta(seconds=10))
    with started_runtime(project, tmp_path / "l.db", clock, start=False) as runtime:
        clock.set(MIDNIGHT + timedelta(minutes=5))
        runtime.start()
        wait_for_state(
            runtime.ledger, "every_two", MIDNIGHT + timedelta(minutes=4), TickState.SUCCEEDED
        )
        assert [t.scheduled_at.minute for t in runtime.ledger.find("every_two")] == [2, 4]


def test_invocations_within_one_second_are_one_tick_as_their_event_is_one(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock(MIDNIGHT + timedelta(seconds=7, microseconds=250_000))
    with started_runtime(project, tmp_path / "l.db", clock, fire_schedules=False) as runtime:
        first = runtime.invoke_now("every_minute")
        clock.advance(timedelta(milliseconds=500))
        second = runtime.invoke_now("every_minute")
        assert first.tick.id == second.tick.id
        assert first.result.payload == second.result.payload == {"time": "2022-12-19T00:00:07Z"}
        (tick,) = runtime.ledger.find("every_minute")
        assert tick.scheduled_at == MIDNIGHT + timedelta(seconds=7)
        assert (tick.attempts, tick.state) == (2, TickState.SUCCEEDED)
        clock.advance(timedelta(milliseconds=500))  # the next second: a new tick
        third = runtime.invoke_now("every_minute")
        assert third.result.payload == {"time": "2022-12-19T00:00:08Z"}
        assert len(runtime.ledger.find("every_minute")) == 2


def test_asynchronous_invocations_within_one_second_deliver_one_event(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock(MIDNIGHT + timedelta(seconds=7, microseconds=250_000))
    with started_runtime(project, tmp_path / "l.db", clock, fire_schedules=False) as runtime:
        first = runtime.enqueue_event("every_minute")
        second = runtime.enqueue_event("every_minute")
        assert first.id == second.id
        done = wait_for_state(
            runtime.ledger, "every_minute", first.scheduled_at, TickState.SUCCEEDED
        )
        assert done.scheduled_at == MIDNIGHT + timedelta(seconds=7)
        assert runtime.dispatcher.wait_idle(10)
        assert runtime.ledger.get(done.id).attempts == 1  # type: ignore[union-attr]


def test_a_pending_tick_of_a_removed_function_is_dead_lettered_at_start(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ledger_path = tmp_path / "l.db"
    with started_runtime(project, ledger_path, manual_clock(), start=False) as runtime:
        runtime.ledger.add_ticks([NewTick("removed", MIDNIGHT, TickSource.REDRIVE, T0)], T0)
    with started_runtime(project, ledger_path, manual_clock()) as runtime:
        wait_for_state(runtime.ledger, "removed", MIDNIGHT, TickState.DEAD)
