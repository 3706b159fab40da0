"""The runtime loop on a ManualClock: firing, retries, dead letters, concurrency, reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.events import make_event_factory
from localbridge.ledger.store import Ledger
from localbridge.project.loading import load_functions
from localbridge.ticks import AttemptOutcome, NewTick, Tick, TickSource, TickState
from tests.localbridge.runtime.harness import (
    EVERY_MINUTE,
    FLAKY,
    GATED,
    HOURLY,
    RAISES,
    T0,
    attempts_of,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)
from tests.support import wait_for

MINUTE = timedelta(minutes=1)
FIRST = T0 + timedelta(seconds=30)  # 00:01:00, the first every-minute tick after T0


def test_fires_at_each_instant_never_early(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        clock.set(FIRST - timedelta(microseconds=1))
        # Written ahead of its instant (``firing``), not run before it.
        ahead = wait_for_state(runtime.ledger, "every_minute", FIRST, TickState.PENDING)
        assert runtime.dispatcher.in_flight == 0
        assert runtime.ledger.attempts(ahead.id) == []
        for minute in range(3):
            clock.set(FIRST + minute * MINUTE)
            wait_for_state(
                runtime.ledger, "every_minute", FIRST + minute * MINUTE, TickState.SUCCEEDED
            )
        ticks = runtime.ledger.find("every_minute")
        assert [t.scheduled_at for t in ticks] == [FIRST, FIRST + MINUTE, FIRST + 2 * MINUTE]
        for tick in ticks:
            (attempt,) = runtime.ledger.attempts(tick.id)
            assert attempt.started_at >= tick.scheduled_at
            assert attempt.lateness_ms >= 0
            assert attempt.payload == f'{{"time": "{tick.scheduled_at:%Y-%m-%dT%H:%M:%SZ}"}}'


def test_a_failing_tick_is_retried_with_the_configured_delays_then_dead(tmp_path: Path) -> None:
    settings = {"defaults": {"retry_delays": [10, 20]}}
    project = write_project(tmp_path / "p", RAISES, localbridge=settings)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        ledger = runtime.ledger
        clock.set(FIRST)
        tick = wait_for_state(ledger, "raises", FIRST, TickState.RETRYING)
        assert tick.next_attempt_at == FIRST + timedelta(seconds=10)
        clock.set(FIRST + timedelta(seconds=9))
        assert len(attempts_of(ledger, "raises", FIRST)) == 1  # not early
        clock.set(FIRST + timedelta(seconds=10))
        tick = wait_for_attempt(ledger, tick.id, 2, TickState.RETRYING)
        assert tick.next_attempt_at == FIRST + timedelta(seconds=30)
        clock.set(FIRST + timedelta(seconds=30))
        wait_for_state(ledger, "raises", FIRST, TickState.DEAD)
        attempts = attempts_of(ledger, "raises", FIRST)
        assert [a.outcome for a in attempts] == [AttemptOutcome.ERROR] * 3
        assert attempts[0].error_type == "RuntimeError"
        assert "failed at" in str(attempts[0].traceback)


def wait_for_attempt(ledger: Ledger, tick_id: int, attempts: int, state: TickState) -> Tick:
    def reached() -> Tick | None:
        tick = ledger.get(tick_id)
        return tick if tick and tick.attempts == attempts and tick.state is state else None

    return wait_for(reached, what=f"attempt {attempts} to end {state.value}")


def test_retries_stop_at_the_maximum_event_age(tmp_path: Path) -> None:
    settings = {"defaults": {"retry_delays": [40], "maximum_event_age": 60}}
    project = write_project(tmp_path / "p", RAISES, localbridge=settings)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        clock.set(FIRST)
        wait_for_state(runtime.ledger, "raises", FIRST, TickState.RETRYING)
        clock.set(FIRST + timedelta(seconds=40))
        # The second failure would retry at +80 s, past the 60 s maximum age.
        wait_for_state(runtime.ledger, "raises", FIRST, TickState.DEAD)
        assert len(attempts_of(runtime.ledger, "raises", FIRST)) == 2


def test_an_outage_heals_through_retries(tmp_path: Path) -> None:
    flag = tmp_path / "outage"
    flag.touch()
    settings = {"defaults": {"retry_delays": [30, 60]}}
    project = write_project(
        tmp_path / "p", FLAKY, localbridge=settings, environment={"FAIL_FLAG": str(flag)}
    )
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        clock.set(FIRST)
        wait_for_state(runtime.ledger, "flaky", FIRST, TickState.RETRYING)
        flag.unlink()
        clock.set(FIRST + timedelta(seconds=30))
        wait_for_state(runtime.ledger, "flaky", FIRST, TickState.SUCCEEDED)
        outcomes = [a.outcome for a in attempts_of(runtime.ledger, "flaky", FIRST)]
        assert outcomes == [AttemptOutcome.ERROR, AttemptOutcome.SUCCEEDED]


def test_max_concurrency_makes_ticks_wait_never_drops_them(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    settings = {"functions": {"gated": {"max_concurrency": 1}}}
    project = write_project(
        tmp_path / "p", GATED, localbridge=settings, environment={"GATE": str(gate)}
    )
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        clock.set(FIRST + 2 * MINUTE)  # three ticks due at once
        wait_for(lambda: len(runtime.ledger.find("gated")) == 3, what="three ticks recorded")
        wait_for(lambda: list(tmp_path.glob("started-*")), what="the first run to start")
        # The run starts before its "running" state is committed: wait for that.
        wait_for(
            lambda: (
                sorted(t.state.value for t in runtime.ledger.find("gated"))
                == ["pending", "pending", "running"]
            ),
            what="one tick running, two waiting",
        )
        assert len(list(tmp_path.glob("started-*"))) == 1
        gate.touch()
        for minute in range(3):
            wait_for_state(runtime.ledger, "gated", FIRST + minute * MINUTE, TickState.SUCCEEDED)
        spans = sorted(
            (a.started_at, a.ended_at)
            for t in runtime.ledger.find("gated")
            for a in runtime.ledger.attempts(t.id)
        )
        assert len(spans) == 3


def test_an_asynchronous_invocation_is_recorded_then_run(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        function = runtime.function("hourly")
        assert function is not None
        event = make_event_factory()(function.spec, datetime(2022, 1, 1, tzinfo=UTC))
        tick = runtime.enqueue_event("hourly", event)
        assert tick.source is TickSource.EVENT
        wait_for_state(runtime.ledger, "hourly", tick.scheduled_at, TickState.SUCCEEDED)
        (attempt,) = runtime.ledger.attempts(tick.id)
        assert attempt.payload == '{"time": "2022-01-01T00:00:00Z"}'


def test_a_synchronous_invocation_returns_its_result_and_is_recorded(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY, RAISES)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        ok = runtime.invoke_now("hourly", at=T0)
        failed = runtime.invoke_now("raises")
        assert ok.result.payload == {"time": "2022-12-19T00:00:30Z"}
        assert ok.decision.state is TickState.SUCCEEDED
        assert failed.decision.state is TickState.FAILED
        assert runtime.ledger.get(failed.tick.id).state is TickState.FAILED  # type: ignore[union-attr]


def test_a_restart_does_not_run_a_tick_twice(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        clock.set(FIRST + MINUTE)
        wait_for_state(runtime.ledger, "every_minute", FIRST + MINUTE, TickState.SUCCEEDED)
    # Restart at the same instant (a virtual clock restarted at its start, say).
    with started_runtime(project, tmp_path / "l.db", manual_clock(FIRST + MINUTE)) as runtime:
        assert runtime.dispatcher.wait_idle(5)
        ticks = runtime.ledger.find("every_minute")
        assert [(t.scheduled_at, t.attempts) for t in ticks] == [(FIRST, 1), (FIRST + MINUTE, 1)]


def test_runs_interrupted_by_a_crash_get_a_new_attempt(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger_path = tmp_path / "l.db"
    with started_runtime(project, ledger_path, manual_clock(), start=False) as runtime:
        runtime.prepare()
        (tick,) = runtime.ledger.add_ticks(
            [NewTick("every_minute", FIRST, TickSource.SCHEDULE, FIRST)], FIRST
        )
        runtime.ledger.begin_attempt(tick.id, FIRST, 0.0)  # then the process "dies"
    with started_runtime(
        project, ledger_path, manual_clock(FIRST + timedelta(seconds=5))
    ) as runtime:
        done = wait_for_state(runtime.ledger, "every_minute", FIRST, TickState.SUCCEEDED)
        outcomes = [a.outcome for a in runtime.ledger.attempts(done.id)]
        assert outcomes == [AttemptOutcome.INTERRUPTED, AttemptOutcome.SUCCEEDED]
        assert done.failures == 0


def test_reload_picks_up_a_new_schedule(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        write_project(project, HOURLY)  # every_minute removed, hourly added
        runtime.reload(load_functions(project, "local", {}))
        assert [f.name for f in runtime.functions()] == ["hourly"]
        clock.set(T0 + timedelta(hours=1))
        wait_for_state(
            runtime.ledger, "hourly", T0.replace(second=0) + timedelta(hours=1), TickState.SUCCEEDED
        )
        assert runtime.ledger.find("every_minute") == []


def test_ledger_rows_survive_the_runtime(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        clock.set(FIRST)
        wait_for_state(runtime.ledger, "every_minute", FIRST, TickState.SUCCEEDED)
    reopened = Ledger.open(tmp_path / "l.db")
    assert [t.state for t in reopened.find("every_minute")] == [TickState.SUCCEEDED]
    assert reopened.function_marks()["every_minute"].scheduled_through == FIRST
