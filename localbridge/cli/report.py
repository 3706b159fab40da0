"""Ledger rows as people and programs read them: text tables and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from localbridge.instants import display_instant, display_optional
from localbridge.ledger.store import Ledger
from localbridge.runtime.resume import NoNext, ResumePoint
from localbridge.terminal import escape
from localbridge.ticks import Tick


def table(rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns; control characters in a cell (a job's error, say) shown escaped."""
    rows = [[escape(cell, keep_newlines=False) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def tick_json(ledger: Ledger, tick: Tick) -> dict[str, Any]:
    return {
        "id": tick.id,
        "function": tick.function,
        "scheduled_at": display_optional(tick.scheduled_at),
        "state": tick.state.value,
        "source": tick.source.value,
        "next_attempt_at": display_optional(tick.next_attempt_at),
        "request_id": tick.request_id,
        "event_id": tick.event_id,
        "attempts": [
            {
                "number": a.number,
                "started_at": display_optional(a.started_at),
                "ended_at": display_optional(a.ended_at),
                "lateness_ms": a.lateness_ms,
                "duration_ms": a.duration_ms,
                "outcome": None if a.outcome is None else a.outcome.value,
                "error_type": a.error_type,
                "error_message": a.error_message,
                "traceback": a.traceback,
                "payload": a.payload,
                "payload_truncated": a.payload_truncated,
                "logs": a.logs,
            }
            for a in ledger.attempts(tick.id)
        ],
    }


def ticks(count: int) -> str:
    return f"{count} tick" if count == 1 else f"{count} ticks"


def next_fire(point: ResumePoint, clock_start: datetime, clock_end: datetime | None) -> str:
    """A start banner's word on one function: what an earlier run already did from the
    clock's start on (not fired again), and the instant that really fires next, or why
    none does."""
    done = ""
    if point.done:
        more = "at least " if point.why is NoNext.NOT_COUNTED else ""
        dead = f" ({dead_letters(point.dead)})" if point.dead else ""
        pruned = f" ({point.pruned} pruned)" if point.pruned else ""
        done = f"{more}{ticks(point.done)} already done{dead}{pruned}; "
    if point.next is not None:
        return f"{done}next {display_instant(point.next)}"
    if point.why is NoNext.NOT_COUNTED and point.last_done is not None:
        return f"{done}next after {display_instant(point.last_done)} (not counted further)"
    return f"{done}next never ({why_never(point, clock_start, clock_end)})"


def why_never(point: ResumePoint, clock_start: datetime, clock_end: datetime | None) -> str:
    if point.why is NoNext.PAST_CLOCK_END and clock_end is not None:
        return f"past the clock end {display_instant(clock_end)}"
    if point.why is NoNext.PAUSED:
        return "paused: resume it to fire it again"
    after = clock_start if point.last_done is None else point.last_done
    return f"its expression has no instant after {display_instant(after)}"


def already_done(points: Sequence[ResumePoint]) -> str | None:
    """One line for the ticks a start will not fire again, when there are any."""
    done = sum(point.done for point in points)
    if not done:
        return None
    first = min(point.first_done for point in points if point.first_done is not None)
    last = max(point.last_done for point in points if point.last_done is not None)
    span = (
        display_instant(first)
        if first == last
        else f"{display_instant(first)} to {display_instant(last)}"
    )
    dead = sum(point.dead for point in points)
    letters = f"; {dead_letters(dead)}, which dlq redrive runs again" if dead else ""
    gone = sum(point.pruned for point in points)
    pruned = f", {gone} pruned since" if gone else ""
    return (
        f"localbridge: {ticks(done)} ({span}) already done by an earlier run{pruned}: "
        f"not fired again{letters}"
    )


def dead_letters(count: int) -> str:
    return "1 dead letter" if count == 1 else f"{count} dead letters"
