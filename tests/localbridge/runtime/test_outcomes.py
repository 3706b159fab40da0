"""Lambda-like failures in worker processes, recorded right, while others fire on time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from localbridge.runtime.assemble import Mode
from localbridge.ticks import AttemptOutcome, TickState
from tests.localbridge.runtime.harness import (
    EVERY_MINUTE,
    EXCEEDS_TIMEOUT,
    KILLS_ITSELF,
    RAISES,
    T0,
    attempts_of,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)

ONE_AM = T0.replace(second=0) + timedelta(hours=1)


@pytest.mark.slow
def test_raise_timeout_and_self_kill_each_get_their_outcome(tmp_path: Path) -> None:
    settings = {"defaults": {"maximum_retry_attempts": 0}}
    project = write_project(
        tmp_path / "p",
        EVERY_MINUTE,
        RAISES,
        EXCEEDS_TIMEOUT,
        KILLS_ITSELF,
        localbridge=settings,
        timeout_s=4,
    )
    clock = manual_clock(ONE_AM - timedelta(seconds=1))
    with started_runtime(project, tmp_path / "l.db", clock, mode=Mode.PROCESS) as runtime:
        ledger = runtime.ledger
        clock.set(ONE_AM)
        # While the slow one still runs, the others finish and the next minute fires.
        wait_for_state(ledger, "every_minute", ONE_AM, TickState.SUCCEEDED)
        next_minute = ONE_AM + timedelta(minutes=1)
        clock.set(next_minute)
        wait_for_state(ledger, "every_minute", next_minute, TickState.SUCCEEDED)
        assert ledger.find("exceeds_timeout")[0].state is TickState.RUNNING
        for function, outcome in [
            ("raises", AttemptOutcome.ERROR),
            ("kills_itself", AttemptOutcome.CRASHED),
            ("exceeds_timeout", AttemptOutcome.TIMEOUT),
        ]:
            wait_for_state(ledger, function, ONE_AM, TickState.DEAD)
            (attempt,) = attempts_of(ledger, function, ONE_AM)
            assert attempt.outcome is outcome, function
        timed_out = attempts_of(ledger, "exceeds_timeout", ONE_AM)[0]
        assert timed_out.duration_ms is not None
        assert timed_out.duration_ms >= 4000
