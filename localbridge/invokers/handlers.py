"""Import a handler string and call it the way Lambda's Python runtime does.

Shared by the thread invoker and the worker processes (standard library only).
Error types and messages follow Lambda's own (``Runtime.ImportModuleError``,
``Runtime.HandlerNotFound``, ``Runtime.MarshalError``) so a log reads the same
here as in CloudWatch.
"""

from __future__ import annotations

import importlib
import json
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from localbridge.model import InvocationResult, Outcome

Handler = Callable[[dict[str, Any], Any], Any]
_JSON_SCALARS = (str, int, bool)


@dataclass(frozen=True)
class HandlerOutcome:
    """The result of one call, before wall-clock times and logs are attached."""

    outcome: Outcome
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "outcome": self.outcome.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HandlerOutcome:
        return cls(**{**data, "outcome": Outcome(data["outcome"])})

    def to_result(self, started_at: float, logs: str = "") -> InvocationResult:
        """The invocation's result, ending now, with what the run printed."""
        return InvocationResult(
            outcome=self.outcome,
            started_at=started_at,
            ended_at=time.time(),
            payload=self.payload,
            error_type=self.error_type,
            error_message=self.error_message,
            traceback=self.traceback,
            logs=logs,
        )


class HandlerLoadError(Exception):
    """The handler string cannot be resolved; ``outcome`` describes it as Lambda would."""

    def __init__(self, outcome: HandlerOutcome) -> None:
        super().__init__(outcome.error_message)
        self.outcome = outcome


def load_handler(handler: str) -> Handler:
    """``functions.registrations.registrations_per_day`` -> that module attribute."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise HandlerLoadError(
            error_outcome(
                "Runtime.MalformedHandlerName",
                f"Bad handler '{handler}': not enough values to unpack (expected module.function)",
            )
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise HandlerLoadError(
            error_outcome(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_name}': {error}",
                format_error(error),
            )
        ) from error
    function = getattr(module, attribute, None)
    if not callable(function):
        raise HandlerLoadError(
            error_outcome(
                "Runtime.HandlerNotFound",
                f"Handler '{attribute}' missing on module '{module_name}'",
            )
        )
    loaded: Handler = function
    return loaded


def call_handler(handler: Handler, event: dict[str, Any], context: Any) -> HandlerOutcome:
    """Call it; an exception or an unserialisable return value becomes an ERROR outcome."""
    try:
        payload = handler(event, context)
    except Exception as error:
        return error_outcome(type(error).__name__, str(error), format_error(error))
    if payload is None or type(payload) in _JSON_SCALARS:
        return HandlerOutcome(Outcome.SUCCEEDED, payload=payload)  # already what JSON gives
    try:
        # Round-trip as Lambda does: the caller gets JSON, not Python objects.
        return HandlerOutcome(Outcome.SUCCEEDED, payload=json.loads(json.dumps(payload)))
    except (TypeError, ValueError) as error:
        return error_outcome(
            "Runtime.MarshalError",
            f"Unable to marshal response: {error}; return only JSON-serialisable values",
        )


def error_outcome(
    error_type: str, message: str, formatted_traceback: str | None = None
) -> HandlerOutcome:
    return HandlerOutcome(
        Outcome.ERROR,
        error_type=error_type,
        error_message=message,
        traceback=formatted_traceback,
    )


def format_error(error: BaseException) -> str:
    """The traceback from the user's frames on (this module's frame left out)."""
    tb = error.__traceback__.tb_next if error.__traceback__ else None
    return "".join(traceback.format_exception(type(error), error, tb))
