"""What happens to a tick after an attempt: AWS asynchronous-invocation rules.

Pure functions of the tick, the attempt's outcome, the function's settings and
the clock's reading, so every rule is testable without running anything.
"""

from __future__ import annotations

from datetime import datetime

from localbridge.model import FunctionSettings, Outcome
from localbridge.ticks import Decision, Tick, TickState


def expires_at(tick: Tick, settings: FunctionSettings) -> datetime:
    """The instant after which the tick's event is too old to deliver."""
    return tick.enqueued_at + settings.maximum_event_age


def is_expired(tick: Tick, settings: FunctionSettings, now: datetime) -> bool:
    return now > expires_at(tick, settings)


def after_attempt(
    tick: Tick, outcome: Outcome, settings: FunctionSettings, now: datetime
) -> Decision:
    """The tick's next state; ``tick.failures`` counts failures before this attempt."""
    if outcome is Outcome.SUCCEEDED:
        return Decision(TickState.SUCCEEDED)
    failures = tick.failures + 1
    if failures > settings.maximum_retry_attempts:
        retries = settings.maximum_retry_attempts
        return Decision(TickState.DEAD, reason=f"failed after {retries} retries")
    next_attempt_at = now + settings.retry_delay(failures)
    if next_attempt_at > expires_at(tick, settings):
        return Decision(TickState.DEAD, reason="next retry would pass the maximum event age")
    return Decision(TickState.RETRYING, next_attempt_at, f"retry {failures} at")
