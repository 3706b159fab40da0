"""Which ticks missed while the runtime was down get run, skipped or dropped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from localbridge import Schedule
from localbridge.project.settings import CatchUp, FunctionSettings


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
