"""What a start finds: per function, the scheduled instants already done, and what fires next.

A ``run`` fires every instant from its clock's start on, except those the
ledger already holds a scheduled tick of (an earlier run's, a replay's): a
second ``make run`` over a period already done fires nothing there. Walking
the schedule from the clock's start against the ledger tells how many
instants are skipped so, which instant really fires next, and when none
does, why (past ``--clock-end``, paused, or an expression with no instant
left). An instant retention pruned (in its function's pruned span, without a
row: ``ledger.pruning``) was done too, and is counted apart.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from localbridge.ledger.pruning import PrunedSpans, in_span
from localbridge.runtime.functions import Function
from localbridge.ticks import FINAL_STATES, TickState

CHUNK = 256
"""Instants compared with the ledger per read."""
WALK_LIMIT = 100_000
"""Instants already done counted at most per function: a year of every-minute
ticks done before would take seconds to walk, for a number no one needs exact."""

States = Callable[[str, datetime, datetime], dict[datetime, TickState]]
"""(function, after, through) -> the state of each scheduled instant the ledger holds."""


class NoNext(enum.Enum):
    """Why a function fires nothing more in this run."""

    PAST_CLOCK_END = "past the clock end"
    PAUSED = "paused"
    NO_INSTANT_LEFT = "no instant left"
    NOT_COUNTED = "not counted"
    """More than ``WALK_LIMIT`` instants were already done: the next is further on."""


@dataclass(frozen=True)
class ResumePoint:
    function: str
    done: int
    """Scheduled instants from the clock's start on that the ledger held finished."""
    first_done: datetime | None
    last_done: datetime | None
    next: datetime | None
    """The first instant this run fires; None when there is none (``why``)."""
    why: NoNext | None = None
    dead: int = 0
    """Of ``done``, the dead letters (``dlq redrive`` runs them again, not ``run``)."""
    pruned: int = 0
    """Of ``done``, those pruned since (no row left; not fired again either)."""


def resume_point(
    function: Function,
    states: States,
    after: datetime,
    until: datetime | None,
    paused: Collection[str],
    pruned: PrunedSpans | None = None,
) -> ResumePoint:
    """``function``'s instants after ``after`` (up to ``until``, --clock-end) against the
    ledger: the ones finished before (or pruned since) are counted, the first one
    that is not fires."""
    spans = pruned or {}
    done, first, last, cursor = 0, None, None, after
    dead = gone = 0
    name = function.name
    while done < WALK_LIMIT:
        batch = function.schedule.next_fire_times(cursor, CHUNK)
        fire = [instant for instant in batch if until is None or instant <= until]
        held = states(name, cursor, fire[-1]) if fire else {}
        for instant in fire:
            state = held.get(instant)
            was_pruned = state is None and in_span(spans, name, instant)
            if state not in FINAL_STATES and not was_pruned:
                # Not held, or held unfinished (pending, retrying): this run runs it.
                why = NoNext.PAUSED if name in paused else None
                next_at = None if why else instant
                return ResumePoint(name, done, first, last, next_at, why, dead, gone)
            done, first, last = done + 1, first or instant, instant
            dead += state is TickState.DEAD
            gone += was_pruned
        if len(fire) < len(batch):
            return ResumePoint(name, done, first, last, None, NoNext.PAST_CLOCK_END, dead, gone)
        if len(batch) < CHUNK:
            return ResumePoint(name, done, first, last, None, NoNext.NO_INSTANT_LEFT, dead, gone)
        cursor = batch[-1]
    return ResumePoint(name, done, first, last, None, NoNext.NOT_COUNTED, dead, gone)


def resume_points(
    functions: Collection[Function],
    states: States,
    clock_start: datetime,
    until: datetime | None,
    paused: Collection[str],
    pruned: PrunedSpans | None = None,
) -> list[ResumePoint]:
    """``resume_point`` of each function, from the first instant at or after ``clock_start``."""
    after = clock_start - timedelta(microseconds=1)
    return [resume_point(f, states, after, until, paused, pruned) for f in functions]
