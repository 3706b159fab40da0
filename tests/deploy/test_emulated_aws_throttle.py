"""``put-function-concurrency --reserved-concurrent-executions 0`` on the emulated AWS:
scheduled events are held, dead-lettered past their age, and run once the
function has room again, as Lambda does.

The engine over moto in this process, on a virtual clock at ten times real time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.emulated_aws.engine import ClockSetting, Engine
from localbridge.events import AwsIdentity
from localbridge.ticks import Tick, TickState
from tests.deploy.test_emulated_aws import aws, deploy
from tests.support import PROCESS_START_S, wait_for

__all__ = ["aws"]  # the fixture, imported to be used here

MIDNIGHT = datetime(2022, 12, 19, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SPEED = 10.0
VIRTUAL_MINUTE_S = 60 / SPEED


def tick_at(engine: Engine, at: datetime, state: TickState) -> Tick | None:
    for tick in engine.ledger.find("job"):
        if tick.scheduled_at == at and tick.state is state:
            return tick
    return None


@pytest.mark.slow
def test_scheduled_ticks_are_held_while_reserved_concurrency_is_zero(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    deploy(aws, 1, "cron(* * * * ? *)")
    aws["lambda"].put_function_concurrency(FunctionName="app-s-job", ReservedConcurrentExecutions=0)
    aws["lambda"].put_function_event_invoke_config(
        FunctionName="app-s-job", MaximumEventAgeInSeconds=60
    )
    start = MIDNIGHT - timedelta(seconds=2)
    engine = Engine(tmp_path, "http://127.0.0.1:9", AwsIdentity(), ClockSetting(start, SPEED))
    engine.start()
    try:
        engine.start_clock()
        # Held, not run: no attempt, retried until a minute old, then dead-lettered.
        held = wait_for(
            lambda: tick_at(engine, MIDNIGHT, TickState.RETRYING),
            PROCESS_START_S,
            what="the midnight tick to be held",
        )
        assert (held.attempts, held.failures) == (0, 0)
        dead = wait_for(
            lambda: tick_at(engine, MIDNIGHT, TickState.DEAD),
            PROCESS_START_S + 2 * VIRTUAL_MINUTE_S,
            what="the midnight tick to be dead-lettered at its maximum age",
        )
        assert (dead.attempts, dead.failures) == (0, 0)
        assert engine.ledger.attempts(dead.id) == []

        aws["lambda"].delete_function_concurrency(FunctionName="app-s-job")
        engine.poll()
        ran = wait_for(
            lambda: tick_at(engine, MIDNIGHT + MINUTE, TickState.SUCCEEDED),
            PROCESS_START_S + 2 * VIRTUAL_MINUTE_S,
            what="the next tick to run once the function has room",
        )
        assert (ran.attempts, ran.failures) == (1, 0)
    finally:
        engine.stop()
