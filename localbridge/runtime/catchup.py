"""Which ticks missed while the runtime was down get run, skipped or dropped."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from localbridge.abc import EventFactory
from localbridge.instants import display_instant
from localbridge.model import CatchUp, FunctionSettings
from localbridge.runtime.firing import scheduled_tick
from localbridge.runtime.functions import Function
from localbridge.schedules import Schedule
from localbridge.ticks import FunctionMark, NewTick, TickState

log = logging.getLogger("localbridge")


@dataclass(frozen=True)
class CatchUpPlan:
    run: list[datetime] = field(default_factory=list)
    skip: list[datetime] = field(default_factory=list)
    too_old_before: datetime | None = None
    """Set when instants at or before this were missed and are past the event age."""


def missed_instants(schedule: Schedule, after: datetime, through: datetime) -> list[datetime]:
    """Every fire instant in (after, through], oldest first."""
    instants: list[datetime] = []
    cursor = after
    while True:
        batch = [t for t in schedule.next_fire_times(cursor, count=256) if t <= through]
        instants.extend(batch)
        if len(batch) < 256:
            return instants
        cursor = batch[-1]


def plan_catch_up(
    schedule: Schedule, through: datetime, now: datetime, settings: FunctionSettings
) -> CatchUpPlan:
    """Missed instants in (through, now], per the function's catch-up policy.

    Only instants within ``maximum_event_age`` of ``now`` are considered: an
    older event would be dropped by AWS too, so it is not even recorded.
    """
    if through >= now:
        return CatchUpPlan()
    oldest_allowed = now - settings.maximum_event_age
    too_old_before = None
    if through < oldest_allowed and schedule.next_fire_times(through, 1)[:1] != []:
        first = schedule.next_fire_times(through, 1)[0]
        too_old_before = oldest_allowed if first <= oldest_allowed else None
    missed = missed_instants(schedule, max(through, oldest_allowed), now)
    if settings.catch_up is CatchUp.ALL:
        return CatchUpPlan(run=missed, too_old_before=too_old_before)
    if settings.catch_up is CatchUp.LATEST:
        return CatchUpPlan(run=missed[-1:], skip=missed[:-1], too_old_before=too_old_before)
    return CatchUpPlan(skip=missed, too_old_before=too_old_before)


def catch_up_ticks(
    functions: Iterable[Function],
    previous: Mapping[str, FunctionMark],
    now: datetime,
    build: EventFactory | None = None,
) -> list[NewTick]:
    """The ticks to record for instants missed since each function's mark, per its policy,
    each with the event EventBridge would have sent at its instant (made by ``build``).

    A function seen for the first time, or whose expression changed, has
    missed nothing: its rule is new.
    """
    new_ticks: list[NewTick] = []
    for function in functions:
        mark = previous.get(function.name)
        if mark is None or mark.expression != function.spec.expression:
            continue
        plan = plan_catch_up(function.schedule, mark.scheduled_through, now, function.settings)
        for instant in plan.run:
            new_ticks.append(scheduled_tick(function.spec, instant, build))
        for instant in plan.skip:
            skipped = scheduled_tick(function.spec, instant, build)
            new_ticks.append(replace(skipped, state=TickState.SKIPPED))
        _log_plan(function, plan)
    return new_ticks


def _log_plan(function: Function, plan: CatchUpPlan) -> None:
    if plan.too_old_before is not None:
        log.warning(
            f"{function.name}: ticks missed before {display_instant(plan.too_old_before)} "
            "are older than maximum_event_age and are not run"
        )
    if plan.run or plan.skip:
        policy = function.settings.catch_up.value
        log.info(
            f"{function.name}: catching up ({policy}): {len(plan.run)} missed tick(s) "
            f"to run, {len(plan.skip)} skipped"
        )


def moved_marks(
    marks: Mapping[str, FunctionMark], functions: Iterable[str], through: datetime
) -> list[FunctionMark]:
    """The marks of ``functions`` moved on to ``through`` (never back)."""
    names = set(functions)  # once, not once per function
    return [
        FunctionMark(m.name, m.expression, m.anchor, max(m.scheduled_through, through))
        for m in marks.values()
        if m.name in names
    ]
