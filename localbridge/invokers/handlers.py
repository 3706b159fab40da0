"""Import a handler string and call it the way Lambda's Python runtime does.

Shared by the thread invoker and the worker processes (standard library only).
Errors are Lambda's own, built in ``localbridge.lambda_errors``.
"""

from __future__ import annotations

import base64
import decimal
import importlib
import json
from collections.abc import Callable
from typing import Any

from localbridge import lambda_errors
from localbridge.lambda_errors import HandlerOutcome
from localbridge.model import Outcome

Handler = Callable[[dict[str, Any], Any], Any]
# Small enough never to pass the response quota; strings are measured like the rest.
# A float comes back from JSON as the same float (its repr round-trips; NaN and
# the infinities too), so the text in between is left out.
_JSON_SCALARS = (int, bool, float)


class HandlerLoadError(Exception):
    """The handler string cannot be resolved; ``outcome`` describes it as Lambda would."""

    def __init__(self, outcome: HandlerOutcome) -> None:
        super().__init__(outcome.error_message)
        self.outcome = outcome


def load_handler(handler: str) -> Handler:
    """``functions.registrations.registrations_per_day`` -> that module attribute."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise HandlerLoadError(lambda_errors.malformed_handler(handler))
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        outcome = lambda_errors.import_failed(module_name, error, format_error(error))
        raise HandlerLoadError(outcome) from error
    function = getattr(module, attribute, None)
    if not callable(function):
        raise HandlerLoadError(lambda_errors.handler_not_found(attribute, module_name))
    loaded: Handler = function
    return loaded


def call_handler(handler: Handler, event: dict[str, Any], context: Any) -> HandlerOutcome:
    """Call it; an exception or an unserialisable return value becomes an ERROR outcome."""
    try:
        payload = handler(event, context)
    except Exception as error:
        return lambda_errors.error(type(error).__name__, str(error), format_error(error))
    if payload is None or type(payload) in _JSON_SCALARS:
        return HandlerOutcome(Outcome.SUCCEEDED, payload=payload)  # already what JSON gives
    if isinstance(payload, bytes):
        # Lambda's runtime sends top-level bytes as they are, not as JSON.
        if len(payload) > lambda_errors.MAX_RESPONSE_BYTES:
            return lambda_errors.response_too_large()
        return HandlerOutcome(Outcome.SUCCEEDED, payload=bytes(payload))
    try:
        # Round-trip as Lambda does: the caller gets JSON, not Python objects.
        text = json.dumps(payload, default=_decimal_as_number)
    except (TypeError, ValueError) as error:
        return lambda_errors.marshal_failed(error)
    if len(text) > lambda_errors.MAX_RESPONSE_BYTES:  # ASCII (json escapes the rest): bytes
        return lambda_errors.response_too_large()
    return HandlerOutcome(Outcome.SUCCEEDED, payload=json.loads(text))


def outcome_message(outcome: HandlerOutcome) -> dict[str, Any]:
    """The outcome as a JSON object for the worker's pipe; raw bytes travel as base64."""
    message = outcome.to_json()
    if isinstance(outcome.payload, bytes):
        message["payload"] = base64.b64encode(outcome.payload).decode("ascii")
        message[_RAW] = True
    return message


def outcome_of(message: dict[str, Any]) -> HandlerOutcome:
    """``outcome_message``'s inverse (the message is consumed)."""
    if message.pop(_RAW, False):
        message["payload"] = base64.b64decode(message["payload"])
    return HandlerOutcome.from_json(message)


_RAW = "payload_is_bytes"


def _decimal_as_number(value: object) -> object:
    """Lambda's runtime writes a ``Decimal`` as a JSON number (boto3's DynamoDB numbers)."""
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return float("nan")
        # 5 stays an integer, 1.50 a number with a fraction, as their JSON text would.
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def format_error(error: BaseException) -> str:
    """The traceback from the user's frames on (this module's frame left out)."""
    return lambda_errors.format_traceback(error, skip=1)
