"""Firing: an instant's scheduled ticks written ahead of it, then started at it.

The loop arms the earliest fire instant once it is at most ``arm_lead`` away:
``arm`` writes that instant's ticks (``pending``, as a fire at the instant
would), builds their events and plans the fire, all before the instant, so at
the instant nothing stands between the clock and the handlers but a hand-over
to the workers. What only the instant decides - the attempts, the moved
marks, the ticks not fired after all (paused or reloaded since) - is recorded
right after the runs began (``dispatch.FireStarted``, ``ledger.runs``). A
crash while armed leaves ``pending`` ticks: the next start runs each at its
instant, or at once when that has passed (``Runtime._resume_unfinished``).
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from localbridge.abc import EventFactory, RunRecorder
from localbridge.events import tick_event
from localbridge.model import FunctionSpec
from localbridge.runtime.functions import Due, Function
from localbridge.ticks import FunctionMark, NewTick, Tick, TickSource

ARM_AHEAD_S = 2.0
"""At most, real seconds before an instant its ticks are written."""
ARM_BASE_S = 0.05
ARM_PER_FUNCTION_S = 0.0002
"""Room per function to write its tick ahead and build its event, with a margin."""

Event = Mapping[str, Any]

YIELD_LIMIT_S = 1.0
"""Real seconds the loop leaves the interpreter to the runs it handed over, at most:
whatever it does next (arming the next instant writes the ledger) would delay them."""


@dataclass(frozen=True)
class FirePlan:
    runs: list[tuple[Tick, Function]]
    dropped: list[int]
    """Ticks written ahead that do not fire: paused or reloaded since."""
    late: list[NewTick]
    """Instants to record at the instant: those of functions resumed since."""
    events: dict[int, Event]


@dataclass(frozen=True)
class Armed:
    """An instant whose ticks are written and whose events are built."""

    instant: datetime
    entries: list[Due]
    specs: dict[str, FunctionSpec]
    """What each function was when armed: its event was built from it."""
    ticks: dict[str, Tick]
    """Written ahead, by function."""
    held: frozenset[str]
    """Functions whose tick of this instant the ledger already held (an earlier
    run's, or a replay's), or had pruned since (``ledger.pruning``): not run
    twice. An invocation of the instant holds nothing (``runtime.invocations``)."""
    events: dict[int, Event]
    build: EventFactory | None = None
    """Builds the events of instants recorded only at the instant (``FirePlan.late``)."""
    table: Mapping[str, Function] = field(default_factory=dict)
    """The runtime's function table when armed (a reload puts in a new one)."""
    paused: Collection[str] = frozenset()
    plan: FirePlan | None = None
    """What the instant runs, planned when armed: still right at the instant
    when the table and the paused functions are the same then."""
    marks: dict[str, FunctionMark] = field(default_factory=dict)
    """The marks of the functions planned, moved on to the instant."""


def arm_lead(speed: float, functions: int) -> timedelta:
    """How far ahead (clock time) an instant is armed: enough to write every
    function's tick with room to spare, and no more - a row written ahead shows
    in the ledger as ``pending`` until its instant."""
    seconds = min(ARM_AHEAD_S, ARM_BASE_S + ARM_PER_FUNCTION_S * functions)
    return timedelta(seconds=seconds * speed)


def pop_instant(heap: list[Due]) -> list[Due]:
    """Every fire entry at the heap's earliest instant; retry entries stay."""
    instant = heap[0].instant
    fires: list[Due] = []
    retries: list[Due] = []
    while heap and heap[0].instant == instant:
        entry = heapq.heappop(heap)
        (fires if entry.tick_id is None else retries).append(entry)
    for entry in retries:
        heapq.heappush(heap, entry)
    return fires


def next_wake(heap: Sequence[Due], armed: Armed | None, lead: timedelta) -> datetime | None:
    """When the loop has something to do: an armed instant, a retry, an instant to arm."""
    wakes = [] if armed is None else [armed.instant]
    if heap:
        top = heap[0]
        arming = top.tick_id is None and armed is None
        wakes.append(top.instant - lead if arming else top.instant)
    return min(wakes, default=None)


def real_seconds_until(instant: datetime | None, now: datetime, speed: float) -> float:
    """How long the loop lets the runs it just handed over begin: until its next
    entry is due, at most ``YIELD_LIMIT_S``."""
    if instant is None:
        return YIELD_LIMIT_S
    return max(0.0, min(YIELD_LIMIT_S, (instant - now).total_seconds() / speed))


def arm(
    ledger: RunRecorder,
    instant: datetime,
    entries: list[Due],
    functions: Mapping[str, Function],
    paused: Collection[str],
    now: datetime,
    build_event: EventFactory,
    table: tuple[Mapping[str, Function], Mapping[str, FunctionMark]] = ({}, {}),
) -> Armed:
    """Write the ticks of ``entries`` (``instant``'s current fire entries) ahead of
    it, and plan its fire (``table``: the runtime's functions and marks as armed).

    A paused function gets none, as a fire at the instant would give it none.
    """
    specs = {name: function.spec for name, function in functions.items()}
    new = {
        entry.function: scheduled_tick(specs[entry.function], entry.instant, build_event)
        for entry in entries
        if entry.function not in paused
    }
    added = ledger.add_ticks(list(new.values()), now) if new else []
    ticks = {tick.function: tick for tick in added}
    held = frozenset(name for name in new if name not in ticks)
    events = {tick.id: tick_event(build_event, specs[tick.function], tick) for tick in added}
    armed = Armed(instant, entries, specs, ticks, held, events, build_event)
    return planned(armed, table[0], functions, table[1], paused)


def scheduled_tick(
    function: FunctionSpec,
    instant: datetime,
    build: EventFactory | None,
    source: TickSource = TickSource.SCHEDULE,
    enqueued_at: datetime | None = None,
) -> NewTick:
    """A tick of a scheduled instant with its event (the one EventBridge sends at
    ``instant``, its id the delivery's), so the ledger keeps what the function was
    sent; every attempt gets that same event. Without ``build``, the event is left
    to be built when it runs.

    Scheduled, caught-up and replayed ticks are all made here: the run page shows
    each one's event.
    """
    enqueued = instant if enqueued_at is None else enqueued_at
    if build is None:
        return NewTick(function.name, instant, source, enqueued)
    # One construction (not ``replace``): a replay makes one per run.
    event_id = str(uuid.uuid4())
    event = dict(build(function, instant, event_id))
    return NewTick(function.name, instant, source, enqueued, event, event_id=event_id)


def planned(
    armed: Armed,
    table: Mapping[str, Function],
    current: Mapping[str, Function],
    marks: Mapping[str, FunctionMark],
    paused: Collection[str],
) -> Armed:
    """``armed`` with its fire planned ahead too (``table``: the runtime's function
    table, ``current``: the functions of its entries, both as armed): at the
    instant only handing the runs over is left."""
    plan = plan_fire(armed, current, paused)
    moved = marks_moved_to(marks, current, armed.instant)
    return replace(armed, table=table, paused=paused, plan=plan, marks=moved)


def plan_at_instant(
    armed: Armed,
    table: Mapping[str, Function],
    current: Callable[[], Mapping[str, Function]],
    marks: dict[str, FunctionMark],
    paused: Collection[str],
) -> tuple[FirePlan, list[FunctionMark]]:
    """The plan and moved marks of an armed instant that came; ``marks`` (the
    runtime's) moved on. Planned ahead unless a reload or a pause came between."""
    if armed.plan is not None and table is armed.table and paused == armed.paused:
        marks.update(armed.marks)
        return armed.plan, list(armed.marks.values())
    functions = current()
    moved = moved_marks_at(marks, functions, armed.instant)
    return plan_fire(armed, functions, paused), moved


def marks_moved_to(
    marks: Mapping[str, FunctionMark], names: Collection[str], instant: datetime
) -> dict[str, FunctionMark]:
    """The marks of ``names`` moved on to ``instant`` (never back)."""
    moved = {}
    for name in names:
        mark = marks[name]
        through = max(mark.scheduled_through, instant)
        moved[name] = FunctionMark(mark.name, mark.expression, mark.anchor, through)
    return moved


def moved_marks_at(
    marks: dict[str, FunctionMark], names: Collection[str], instant: datetime
) -> list[FunctionMark]:
    """Move the marks of ``names`` on to ``instant`` (never back), in ``marks`` too."""
    moved = marks_moved_to(marks, names, instant)
    marks.update(moved)
    return list(moved.values())


def plan_fire(armed: Armed, current: Mapping[str, Function], paused: Collection[str]) -> FirePlan:
    """What an armed instant runs, given the functions still current and paused now."""
    runs, late = [], []
    events = dict(armed.events)
    for name, function in current.items():
        if name in paused or name in armed.held:
            continue
        tick = armed.ticks.get(name)
        if tick is not None:
            runs.append((tick, function))
            if function.spec is not armed.specs[name]:
                events.pop(tick.id, None)  # reloaded with new code: built afresh
        else:  # paused when armed, resumed since
            late.append(scheduled_tick(function.spec, armed.instant, armed.build))
    running = {tick.id for tick, _ in runs}
    dropped = [tick.id for tick in armed.ticks.values() if tick.id not in running]
    return FirePlan(runs, dropped, late, events)
