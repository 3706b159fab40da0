"""The one exception for schedule expressions EventBridge would reject."""

from __future__ import annotations


class ScheduleError(ValueError):
    """An expression EventBridge would reject; the message names the field and the rule."""

    def __init__(self, expression: str, problem: str) -> None:
        super().__init__(f"{expression}: {problem}")
        self.expression = expression
        self.problem = problem
