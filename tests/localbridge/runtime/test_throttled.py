"""Reserved concurrency 0 throttles every run: events are held, retried, then dead-lettered.

As Lambda does with an asynchronous event it cannot run: no attempt is made
or counted, the event is tried again after 1 s, then after intervals that
double up to 5 minutes, it runs once the function has room again, and it
goes to the dead letters once older than its maximum event age. A real
runtime on a ManualClock, with a real ledger file.
"""

from __future__ import annotations

import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localbridge.clock import SystemClock
from localbridge.events import make_event_factory
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSettings
from localbridge.project.loading import load_functions
from localbridge.runtime.replay import replay
from localbridge.runtime.retries import throttled_retry_at
from localbridge.ticks import Tick, TickSource, TickState
from tests.localbridge.runtime.harness import (
    HOURLY,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)
from tests.support import wait_for

FIRE = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)
EVENT_AGE_S = 600


def throttled_project(root: Path, reserved: int | None = 0) -> Path:
    project = write_project(
        root, HOURLY, localbridge={"defaults": {"maximum_event_age": EVENT_AGE_S}}
    )
    config_path = project / ".chalice" / "config.json"
    config = json.loads(config_path.read_text())
    if reserved is not None:
        functions = {"hourly": {"reserved_concurrency": reserved}}
        config["stages"]["local"]["lambda_functions"] = functions
    config_path.write_text(json.dumps(config))
    return project


def the_tick(ledger: Ledger, at: datetime = FIRE) -> Tick | None:
    """The scheduled tick of ``at`` (an Event invocation of that instant is apart)."""
    found = [
        t for t in ledger.find("hourly") if t.scheduled_at == at and t.source is TickSource.SCHEDULE
    ]
    assert len(found) <= 1
    return found[0] if found else None


def held_until(ledger: Ledger, after: datetime) -> datetime:
    """The tick's next try once it was put off past ``after``."""

    def put_off() -> datetime | None:
        tick = the_tick(ledger)
        if tick is None:  # not written yet
            return None
        assert (tick.attempts, tick.failures) == (0, 0)
        if tick.state is TickState.RETRYING and tick.next_attempt_at is not None:
            return tick.next_attempt_at if tick.next_attempt_at > after else None
        return None

    return wait_for(put_off, what=f"the throttled tick to be held past {after}")


def test_the_backoff_doubles_from_a_second_to_five_minutes_within_the_event_age() -> None:
    tick = Tick(1, "f", FIRE, TickState.PENDING, TickSource.SCHEDULE, 0, 0, None, FIRE,
                None, FIRE, FIRE)  # fmt: skip
    settings = FunctionSettings(maximum_event_age=timedelta(hours=6))
    second = timedelta(seconds=1)
    assert throttled_retry_at(tick, settings, FIRE) == FIRE + second
    assert throttled_retry_at(tick, settings, FIRE + 8 * second) == FIRE + 16 * second
    at = FIRE + timedelta(hours=1)
    assert throttled_retry_at(tick, settings, at) == at + timedelta(minutes=5)
    last = FIRE + timedelta(hours=6)
    assert throttled_retry_at(tick, settings, last - second) == last
    assert throttled_retry_at(tick, settings, last) is None


def test_a_throttled_tick_is_held_retried_then_dead_lettered_at_its_age(tmp_path: Path) -> None:
    project = throttled_project(tmp_path / "p")
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        clock.set(FIRE)
        tries = [FIRE]
        while len(tries) < 30:
            next_try = held_until(runtime.ledger, tries[-1])
            tries.append(next_try)
            if next_try == FIRE + timedelta(seconds=EVENT_AGE_S):
                break
            clock.set(next_try)
        gaps = [int((b - a).total_seconds()) for a, b in itertools.pairwise(tries)]
        assert gaps == [1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 88]
        clock.set(tries[-1])
        tick = wait_for_state(runtime.ledger, "hourly", FIRE, TickState.DEAD)
        assert (tick.attempts, tick.failures) == (0, 0)
        assert runtime.ledger.attempts(tick.id) == []


def test_a_held_tick_runs_once_the_function_has_room_again(tmp_path: Path) -> None:
    project = throttled_project(tmp_path / "p")
    clock = manual_clock()
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        function = runtime.function("hourly")
        assert function is not None
        event = make_event_factory()(function.spec, datetime(2022, 1, 1, tzinfo=UTC))
        clock.set(FIRE)
        enqueued = runtime.enqueue_event("hourly", event)
        first_try = held_until(runtime.ledger, FIRE)
        clock.set(first_try)
        second_try = held_until(runtime.ledger, first_try)
        assert getattr(the_tick(runtime.ledger), "state", None) is TickState.RETRYING
        assert runtime.ledger.get(enqueued.id).attempts == 0  # type: ignore[union-attr]

        raised = throttled_project(tmp_path / "p", reserved=None)
        runtime.reload(load_functions(raised, "local", {}))
        clock.set(second_try)
        tick = wait_for_state(runtime.ledger, "hourly", FIRE, TickState.SUCCEEDED, attempts=1)
        assert tick.failures == 0

        def ran() -> bool:
            again = runtime.ledger.get(enqueued.id)
            return again is not None and again.state is TickState.SUCCEEDED

        wait_for(ran, what="the held Event invocation to run")


def test_a_replay_leaves_a_throttled_function_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project = throttled_project(tmp_path / "p")
    with started_runtime(
        project, tmp_path / "l.db", SystemClock(), start=False, fire_schedules=False
    ) as runtime:
        summary = replay(runtime, ["hourly"], FIRE, FIRE + timedelta(hours=3), threading.Event())
        assert summary.states == {}
        assert runtime.ledger.find("hourly") == []
    assert "hourly not replayed: its reserved concurrency 0 throttles every run" in caplog.text
