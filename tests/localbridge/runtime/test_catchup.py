"""Catch-up after downtime: policies all/latest/none, within the maximum event age."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from localbridge.ticks import TickState
from tests.localbridge.runtime.harness import (
    HOURLY,
    T0,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)

HOUR = timedelta(hours=1)
MIDNIGHT = T0.replace(second=0)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("all", {2: "succeeded", 3: "succeeded", 4: "succeeded", 5: "succeeded"}),
        ("latest", {2: "skipped", 3: "skipped", 4: "skipped", 5: "succeeded"}),
        ("none", {2: "skipped", 3: "skipped", 4: "skipped", 5: "skipped"}),
    ],
)
def test_ticks_missed_while_down_follow_the_policy(
    tmp_path: Path, policy: str, expected: dict[int, str]
) -> None:
    settings = {"defaults": {"catch_up": policy, "maximum_event_age": 4 * 3600}}
    project = write_project(tmp_path / "p", HOURLY, localbridge=settings)
    ledger_path = tmp_path / "l.db"
    with started_runtime(project, ledger_path, manual_clock()):
        pass  # up at 00:00:30, then down
    # Back at 05:30:30: 01:00 to 05:00 were missed; 01:00 is older than 4 h.
    back = T0 + timedelta(hours=5, minutes=30)
    clock = manual_clock(back)
    with started_runtime(project, ledger_path, clock) as runtime:
        if "succeeded" in expected.values():
            wait_for_state(runtime.ledger, "hourly", MIDNIGHT + 5 * HOUR, TickState(expected[5]))
        assert runtime.dispatcher.wait_idle(10)
        states = {t.scheduled_at.hour: t.state.value for t in runtime.ledger.find("hourly")}
        assert states == expected
        # And it goes on firing on schedule afterwards.
        clock.set(MIDNIGHT + 6 * HOUR)
        wait_for_state(runtime.ledger, "hourly", MIDNIGHT + 6 * HOUR, TickState.SUCCEEDED)


def test_caught_up_ticks_run_oldest_first_and_never_again(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ledger_path = tmp_path / "l.db"
    with started_runtime(project, ledger_path, manual_clock()):
        pass
    back = T0 + timedelta(hours=3)
    with started_runtime(project, ledger_path, manual_clock(back)) as runtime:
        wait_for_state(runtime.ledger, "hourly", MIDNIGHT + 3 * HOUR, TickState.SUCCEEDED)
        assert runtime.dispatcher.wait_idle(10)
        ticks = runtime.ledger.find("hourly")
        starts = [runtime.ledger.attempts(t.id)[0].started_at for t in ticks]
        assert [t.scheduled_at.hour for t in ticks] == [1, 2, 3]
        assert starts == sorted(starts)
    # A second restart a little later finds nothing new to catch up.
    later = back + timedelta(minutes=10)
    with started_runtime(project, ledger_path, manual_clock(later)) as runtime:
        assert runtime.dispatcher.wait_idle(10)
        assert [t.attempts for t in runtime.ledger.find("hourly")] == [1, 1, 1]
