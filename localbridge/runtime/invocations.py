"""Recording invocations (``invoke``, the Invoke API) as ticks in the ledger.

An invocation without a payload gets the scheduled event for an instant, and
that event - like EventBridge's - carries whole seconds in ``time``; the
``Idempotency-Key`` jobs post is built from it. So an invocation "now" is
recorded at the whole second its event shows (``this_second``): two within one
second are one tick with an attempt each, as they are one result to the API.
An invocation with its own payload is its own delivery and gets its own tick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from localbridge.clock import Clock
from localbridge.ledger import Ledger
from localbridge.ticks import NewTick, Tick, TickSource, TickState

INSTANT = timedelta(microseconds=1)
"""The ledger's resolution: "just before" an instant."""


def this_second(now: datetime) -> datetime:
    """The instant of an invocation "now": the whole second its event carries."""
    return now.replace(microsecond=0)


def record_invocation(
    ledger: Ledger,
    name: str,
    source: TickSource,
    event: Mapping[str, Any] | None,
    at: datetime | None,
    clock: Clock,
) -> tuple[Tick, bool]:
    """The tick an invocation runs as, and whether it is new.

    With a payload and no ``at``: a new tick of its own. Otherwise the tick at
    ``at`` (default: this second), recorded now or already there.
    """
    now = clock.now()
    given = None if event is None else dict(event)
    if at is None and given is not None:
        return record_given_event(ledger, name, source, given, now), True
    return record_at(ledger, name, this_second(now) if at is None else at, source, given, now)


def tick_at(ledger: Ledger, name: str, at: datetime) -> Tick:
    (tick,) = ledger.ticks_between([name], at - INSTANT, at)
    return tick


def record_at(
    ledger: Ledger,
    name: str,
    at: datetime,
    source: TickSource,
    event: dict[str, Any] | None,
    now: datetime,
) -> tuple[Tick, bool]:
    """The tick of ``name`` at ``at``: newly recorded (True) or the one already there."""
    added = ledger.add_ticks([NewTick(name, at, source, now, event)], now)
    return (added[0], True) if added else (tick_at(ledger, name, at), False)


def record_given_event(
    ledger: Ledger, name: str, source: TickSource, event: dict[str, Any], now: datetime
) -> Tick:
    """A new tick for a caller's event at ``now`` (nudged by 1 µs until unique)."""
    for offset in range(1000):
        instant = now + offset * INSTANT
        added = ledger.add_ticks([NewTick(name, instant, source, instant, event)], now)
        if added:
            return added[0]
    raise RuntimeError(f"could not record an invocation of {name} at {now}")


def failed_invocations(ledger: Ledger, held: Sequence[NewTick]) -> list[int]:
    """Of the scheduled instants the ledger already holds, those held only by a failed
    synchronous invocation: nothing retries it, so the scheduled delivery takes it over."""
    failed = []
    for new in held:
        at = new.scheduled_at
        for tick in ledger.ticks_between([new.function], at - INSTANT, at):
            if tick.state is TickState.FAILED and tick.event is None:
                failed.append(tick.id)
    return failed
