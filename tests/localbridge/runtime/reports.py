"""A run report of a scheduled tick, for tests of what handles finished runs."""

from __future__ import annotations

from datetime import datetime

from localbridge.model import InvocationResult
from localbridge.ticks import Decision, RunReport, Tick, TickSource


def run_report(
    tick_id: int,
    function: str,
    scheduled_at: datetime,
    result: InvocationResult,
    decision: Decision,
    lateness_ms: float = 0.0,
) -> RunReport:
    """The first attempt's report of a tick of ``function`` due at ``scheduled_at``."""
    tick = Tick(
        id=tick_id,
        function=function,
        scheduled_at=scheduled_at,
        state=decision.state,
        source=TickSource.SCHEDULE,
        attempts=1,
        failures=0,
        next_attempt_at=None,
        enqueued_at=scheduled_at,
        event=None,
        created_at=scheduled_at,
        updated_at=scheduled_at,
    )
    return RunReport(tick, attempt=1, lateness_ms=lateness_ms, result=result, decision=decision)
