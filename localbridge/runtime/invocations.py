"""Recording invocations (``invoke``, the Invoke API) as ticks in the ledger, before they run.

An invocation without a payload gets the scheduled event for an instant, and
that event - like EventBridge's - carries whole seconds in ``time``; the
``Idempotency-Key`` jobs post is built from it. So an invocation "now" is
recorded at the whole second its event shows (``this_second``): two within one
second are one tick with an attempt each, as they are one result to the API.
An invocation with its own payload is its own delivery and gets its own tick.
Invocations are recorded apart from the scheduled instants (the ledger's
``invoked`` ticks): as in AWS, invoking a function at a scheduled instant T
never stands in for the scheduled tick at T, which still fires (its post is
a repeat of the invocation's Idempotency-Key, which the results API answers
as one). The caller's request id, when it gave one (the Invoke API's
``x-amzn-RequestId``), is the delivery's ``aws_request_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from localbridge.abc import Clock
from localbridge.ledger import Ledger
from localbridge.ticks import NewTick, Tick, TickSource

INSTANT = timedelta(microseconds=1)
"""The ledger's resolution: "just before" an instant."""


def this_second(now: datetime) -> datetime:
    """The instant of an invocation "now": the whole second its event carries."""
    return now.replace(microsecond=0)


def new_tick(
    name: str,
    instant: datetime,
    source: TickSource,
    enqueued_at: datetime,
    event: Mapping[str, Any] | None,
    request_id: str | None,
) -> NewTick:
    tick = NewTick(name, instant, source, enqueued_at, None if event is None else dict(event))
    return tick if request_id is None else replace(tick, request_id=request_id)


def record_invocation(
    ledger: Ledger,
    clock: Clock,
    name: str,
    source: TickSource,
    event: Mapping[str, Any] | None,
    at: datetime | None,
    request_id: str | None,
) -> tuple[Tick, bool]:
    """The tick an invocation runs as, and whether it is new.

    With a payload and no ``at``: a new tick of its own. Otherwise the
    invocation tick at ``at`` (default: this second), recorded now or already
    there; a scheduled tick at ``at`` is left alone.
    """
    now = clock.now()
    if at is None and event is not None:
        return record_given_event(ledger, name, source, event, now, request_id), True
    at = this_second(now) if at is None else at
    added = ledger.add_ticks([new_tick(name, at, source, now, event, request_id)], now)
    return (added[0], True) if added else (tick_at(ledger, name, at), False)


def tick_at(ledger: Ledger, name: str, at: datetime) -> Tick:
    (tick,) = ledger.ticks_between([name], at - INSTANT, at, invoked=True)
    return tick


def record_given_event(
    ledger: Ledger,
    name: str,
    source: TickSource,
    event: Mapping[str, Any],
    now: datetime,
    request_id: str | None,
) -> Tick:
    """A new tick for a caller's event at ``now`` (nudged by 1 µs until unique)."""
    for offset in range(1000):
        instant = now + offset * INSTANT
        added = ledger.add_ticks([new_tick(name, instant, source, instant, event, request_id)], now)
        if added:
            return added[0]
    raise RuntimeError(f"could not record an invocation of {name} at {now}")
