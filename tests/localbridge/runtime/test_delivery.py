"""One delivery, one identity: retries and redrives carry the first attempt's ids and keep logs.

Lambda's asynchronous retries hand the function the same event (same
``id``) and the same ``aws_request_id``; functions de-duplicate on them.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from localbridge.clock import SystemClock
from localbridge.runtime.replay import redrive, replay
from localbridge.ticks import TickState
from tests.localbridge.runtime.harness import T0, started_runtime, write_project

START = T0.replace(second=0)
FAST_RETRIES = {"defaults": {"retry_delays": [0.05, 0.05]}}

IDENTIFIES = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def identifies(event):
    print("delivery", event.to_dict()["id"])
    raise RuntimeError(event.to_dict()["id"] + " " + event.context.aws_request_id)
"""


def test_retries_and_redrives_deliver_the_same_event_id_and_request_id(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", IDENTIFIES, localbridge=FAST_RETRIES)
    ledger = tmp_path / "l.db"
    end = START + timedelta(minutes=2)
    with started_runtime(project, ledger, SystemClock(), start=False, fire_schedules=False) as rt:
        assert replay(rt, ["identifies"], START, end, threading.Event()).states == {
            TickState.DEAD: 2
        }
        dead = rt.ledger.find("identifies", TickState.DEAD)
    with started_runtime(project, ledger, SystemClock(), start=False, fire_schedules=False) as rt:
        redrive(rt, dead, threading.Event())
        ticks = rt.ledger.find("identifies")
        attempts = {tick.id: rt.ledger.attempts(tick.id) for tick in ticks}

    identities = []
    for tick in ticks:
        assert len(attempts[tick.id]) == 6  # three attempts, then three more on redrive
        messages = {attempt.error_message for attempt in attempts[tick.id]}
        assert messages == {f"{tick.event_id} {tick.request_id}"}
        identities.append(messages.pop())
        for attempt in attempts[tick.id]:
            # Each attempt keeps its own log, framed as Lambda's log stream shows it.
            logs = attempt.logs or ""
            assert logs.startswith(f"START RequestId: {tick.request_id} Version: $LATEST\n")
            assert f"delivery {tick.event_id}\n" in logs
            assert "[ERROR] RuntimeError: " in logs
            assert f"\nREPORT RequestId: {tick.request_id}\t" in logs
    assert len(set(identities)) == 2  # two deliveries, each with its own ids
