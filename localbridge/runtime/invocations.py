"""Recording an invocation (``invoke``, the Invoke API) as a tick, before it runs.

An invocation is a tick of its own at the instant it was asked for; the
caller's request id, when it gave one (the Invoke API's ``x-amzn-RequestId``),
is the delivery's ``aws_request_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from localbridge.clock import Clock
from localbridge.ledger import Ledger
from localbridge.ticks import NewTick, Tick, TickSource


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


def record_at(
    ledger: Ledger,
    clock: Clock,
    name: str,
    at: datetime,
    event: Mapping[str, Any] | None,
    request_id: str | None,
) -> Tick:
    """A tick at ``at``; an instant already recorded gets its existing tick back."""
    now = clock.now()
    added = ledger.add_ticks([new_tick(name, at, TickSource.INVOKE, now, event, request_id)], now)
    if added:
        return added[0]
    existing = ledger.ticks_between([name], at - timedelta(microseconds=1), at)
    return existing[0]


def record_now(
    ledger: Ledger,
    clock: Clock,
    name: str,
    source: TickSource,
    event: Mapping[str, Any] | None,
    request_id: str | None,
) -> Tick:
    """A tick at the current instant (nudged by 1 µs until it is unique)."""
    now = clock.now()
    for offset in range(1000):
        instant = now + timedelta(microseconds=offset)
        added = ledger.add_ticks([new_tick(name, instant, source, instant, event, request_id)], now)
        if added:
            return added[0]
    raise RuntimeError(f"could not record an invocation of {name} at {now}")
