"""localbridge: a local emulated EventBridge for Chalice scheduled functions."""

from localbridge.schedules import Schedule, ScheduleError, parse_schedule

__all__ = ["Schedule", "ScheduleError", "parse_schedule"]
