"""Ticks written ahead of their instant: run at it, never before, across restarts and pauses."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from localbridge.ledger.pauses import PauseStore
from localbridge.ledger.store import Ledger
from localbridge.project.loading import load_functions
from localbridge.ticks import Tick, TickState
from tests.localbridge.runtime.harness import (
    EVERY_MINUTE,
    HOURLY,
    T0,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)
from tests.support import wait_for

FIRST = T0 + timedelta(seconds=30)  # 00:01:00, the first every-minute tick after T0
AHEAD = timedelta(milliseconds=10)
"""Within the lead (50 ms for one function) at which an instant's ticks are written."""


def written_ahead(ledger: Ledger) -> Tick:
    """The every-minute tick at FIRST once the runtime wrote it, before its instant."""
    tick = wait_for_state(ledger, "every_minute", FIRST, TickState.PENDING)
    assert tick.attempts == 0
    assert ledger.attempts(tick.id) == []
    return tick


def test_a_tick_is_written_ahead_of_its_instant_and_runs_only_at_it(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock(FIRST - AHEAD)
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        tick = written_ahead(runtime.ledger)
        assert runtime.dispatcher.in_flight == 0
        clock.set(FIRST)
        done = wait_for_state(runtime.ledger, "every_minute", FIRST, TickState.SUCCEEDED)
        (attempt,) = runtime.ledger.attempts(done.id)
        assert done.id == tick.id
        assert attempt.number == 1
        assert attempt.started_at >= FIRST
        assert runtime.ledger.function_marks()["every_minute"].scheduled_through == FIRST


def test_after_a_stop_a_tick_written_ahead_runs_at_its_instant_not_before(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger_path = tmp_path / "l.db"
    with started_runtime(project, ledger_path, manual_clock(FIRST - 2 * AHEAD)) as runtime:
        tick = written_ahead(runtime.ledger)
    # Stopped (or killed) before the instant: the row stays pending.
    clock = manual_clock(FIRST - AHEAD)
    with started_runtime(project, ledger_path, clock) as runtime:
        # Resuming is done when start returns: nothing was handed over early.
        assert runtime.dispatcher.in_flight == 0
        assert runtime.ledger.attempts(tick.id) == []
        clock.set(FIRST)
        done = wait_for_state(runtime.ledger, "every_minute", FIRST, TickState.SUCCEEDED)
        assert runtime.dispatcher.wait_idle(5)
        assert [t.id for t in runtime.ledger.find("every_minute")] == [tick.id]
        assert len(runtime.ledger.attempts(done.id)) == 1


def test_a_tick_written_ahead_whose_instant_passed_while_down_runs_once(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger_path = tmp_path / "l.db"
    with started_runtime(project, ledger_path, manual_clock(FIRST - AHEAD)) as runtime:
        tick = written_ahead(runtime.ledger)
    later = manual_clock(FIRST + timedelta(seconds=5))
    with started_runtime(project, ledger_path, later) as runtime:
        done = wait_for_state(runtime.ledger, "every_minute", FIRST, TickState.SUCCEEDED)
        assert runtime.dispatcher.wait_idle(5)
        assert done.id == tick.id
        assert len(runtime.ledger.attempts(done.id)) == 1


def test_a_function_paused_after_its_tick_was_written_does_not_fire(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger_path = tmp_path / "l.db"
    clock = manual_clock(FIRST - AHEAD)
    with started_runtime(project, ledger_path, clock) as runtime:
        written_ahead(runtime.ledger)
        pauses = PauseStore.open(ledger_path)
        pauses.pause(["every_minute"], FIRST - AHEAD)
        pauses.close()
        runtime.gate.pauses.refresh()  # as the console does; `pause` elsewhere: within 1 s
        clock.set(FIRST)
        wait_for(lambda: runtime.ledger.find("every_minute") == [], what="the row removed")
        wait_for(
            lambda: runtime.ledger.function_marks()["every_minute"].scheduled_through == FIRST,
            what="the mark moved past the paused instant",
        )
        assert runtime.dispatcher.in_flight == 0


def test_a_function_removed_after_its_tick_was_written_does_not_fire(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock(FIRST - AHEAD)
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        written_ahead(runtime.ledger)
        # The fire was planned when the tick was written: the reload in between
        # must make the instant plan it again, without the removed function.
        write_project(project, HOURLY)
        runtime.reload(load_functions(project, "local", {}))
        clock.set(FIRST)
        wait_for(lambda: runtime.ledger.find("every_minute") == [], what="the row removed")
        assert runtime.dispatcher.wait_idle(5)
        assert runtime.ledger.find("every_minute") == []
