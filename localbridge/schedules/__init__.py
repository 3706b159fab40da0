"""EventBridge schedule expressions: parse, day rules, evaluate, describe.

Owns the grammar of ``cron(...)`` and ``rate(...)`` exactly as an EventBridge
rule accepts it, the instants an expression selects, and its English
description. Pure computation: of the rest of localbridge it imports only
``instants`` (the naive-datetime policy), so every other package may import
it. ``parse_schedule`` and ``ScheduleError`` are the public API; ``parse``,
``days`` and ``evaluate`` are its parts.
"""

from localbridge.schedules.errors import ScheduleError
from localbridge.schedules.expressions import Schedule, parse_schedule

__all__ = ["Schedule", "ScheduleError", "parse_schedule"]
