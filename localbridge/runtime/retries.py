"""What happens to a tick after an attempt: AWS asynchronous-invocation rules.

Pure functions of the tick, the attempt's outcome, the function's settings and
the clock's reading, so every rule is testable without running anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from localbridge.model import FunctionSettings, Outcome
from localbridge.ticks import Decision, Tick, TickState


def expires_at(tick: Tick, settings: FunctionSettings) -> datetime:
    """The instant after which the tick's event is too old to deliver."""
    return tick.enqueued_at + settings.maximum_event_age


def is_expired(tick: Tick, settings: FunctionSettings, now: datetime) -> bool:
    return now > expires_at(tick, settings)


THROTTLE_BACKOFF_MIN = timedelta(seconds=1)
THROTTLE_BACKOFF_MAX = timedelta(minutes=5)
"""Lambda retries a throttled asynchronous event after 1 s at first, then after
intervals that grow to 5 minutes at most."""


def throttled_retry_at(tick: Tick, settings: FunctionSettings, now: datetime) -> datetime | None:
    """When to try a throttled tick again (no attempt counted), or None when its
    event is too old to be held any longer: it goes to the dead letters.

    The interval is the event's age so far, within Lambda's bounds, so it
    doubles from one try to the next; the last try comes at its maximum age.
    """
    expiry = expires_at(tick, settings)
    if now >= expiry:
        return None
    age = now - tick.enqueued_at
    return min(now + max(THROTTLE_BACKOFF_MIN, min(age, THROTTLE_BACKOFF_MAX)), expiry)


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
