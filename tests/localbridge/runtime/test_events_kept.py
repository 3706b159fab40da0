"""Every scheduled tick keeps the event it is sent: written ahead, or only at its instant."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from localbridge.instants import display_instant
from localbridge.ledger.pauses import PauseStore
from localbridge.ticks import TickState
from tests.localbridge.runtime.harness import (
    EVERY_MINUTE,
    T0,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)

FIRST = T0 + timedelta(seconds=30)  # 00:01:00, the first every-minute tick after T0
AHEAD = timedelta(milliseconds=10)
"""Within the lead at which an instant's ticks are written."""

ALSO_EVERY_MINUTE = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def also_every_minute(event):
    return {"time": event.time}
"""


def test_a_function_resumed_after_its_instant_was_armed_keeps_its_event(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE, ALSO_EVERY_MINUTE)
    ledger_path = tmp_path / "l.db"
    clock = manual_clock(T0)
    with started_runtime(project, ledger_path, clock) as runtime:
        pauses = PauseStore.open(ledger_path)
        pauses.pause(["every_minute"], T0)
        runtime.gate.pauses.refresh()
        clock.set(FIRST - AHEAD)
        # The instant is armed (the other function's tick written ahead), without it.
        wait_for_state(runtime.ledger, "also_every_minute", FIRST, TickState.PENDING)
        assert runtime.ledger.find("every_minute") == []
        pauses.resume(["every_minute"])
        pauses.close()
        runtime.gate.pauses.refresh()
        clock.set(FIRST)
        # Recorded only at its instant, with the event it was sent.
        tick = wait_for_state(runtime.ledger, "every_minute", FIRST, TickState.SUCCEEDED)
        assert tick.event is not None
        assert tick.event["time"] == display_instant(FIRST)
        assert tick.event["id"] == tick.event_id
        (attempt,) = runtime.ledger.attempts(tick.id)
        assert attempt.payload == f'{{"time": "{display_instant(FIRST)}"}}'
