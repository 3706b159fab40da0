"""The runtime's record of a function: its spec and its anchored schedule.

``FunctionSpec`` (``localbridge.model``) is what the project deploys; a
``Function`` adds the ``Schedule`` the runtime anchored for it (a rate counts
from when its rule was first seen, which only the ledger knows). It lives
here, not in ``model``, because the shared vocabulary sits below ``schedules``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from localbridge.model import FunctionSettings, FunctionSpec
from localbridge.schedules import Schedule, parse_schedule
from localbridge.ticks import FunctionMark


@dataclass(frozen=True)
class Function:
    """A scheduled function with everything the runtime needs to fire and run it."""

    spec: FunctionSpec
    schedule: Schedule

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def settings(self) -> FunctionSettings:
        return self.spec.settings


def new_rule_mark(spec: FunctionSpec, created: datetime, old: FunctionMark | None) -> FunctionMark:
    """The mark of ``spec``'s rule, (re)created at ``created`` (``old``: the replaced rule's).

    Nothing at or after ``created`` is recorded for the new rule yet; a mark
    never moves back, as the ledger's ``scheduled_through`` does not.
    """
    through = created - timedelta(microseconds=1)
    if old is not None:
        through = max(old.scheduled_through, through)
    # EventBridge schedules have minute resolution: the rule counts from the
    # minute it was created in.
    anchor = created.replace(second=0, microsecond=0)
    return FunctionMark(spec.name, spec.expression, anchor, through)


@functools.lru_cache(maxsize=4096)
def anchored_schedule(expression: str, anchor: datetime) -> Schedule:
    """``parse_schedule``, once per expression and anchor: a schedule is immutable,
    building its evaluator is costly, and many functions share an expression."""
    return parse_schedule(expression, anchor=anchor)


class UnknownFunctionError(KeyError):
    """No scheduled function of that name."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(order=True, frozen=True)
class Due:
    """An entry of the runtime's heap: a function's next fire, or a tick's next attempt."""

    instant: datetime
    order: int
    function: str = field(compare=False)
    tick_id: int | None = field(compare=False, default=None)
    """None for a fire entry; the tick to attempt otherwise."""
    generation: int = field(compare=False, default=0)
