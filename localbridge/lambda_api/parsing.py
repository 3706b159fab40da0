"""Reading an Invoke request's parts: the payload, the client context, the function's name.

Each refusal is a ``ValueError`` whose message the caller sends back as
Lambda's ``InvalidRequestContentException``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from localbridge.model import FunctionSpec


def parse_client_context(header: str | None) -> Mapping[str, Any] | None:
    """``X-Amz-Client-Context``: base64 of a JSON object (ValueError when it is not)."""
    if not header:
        return None
    try:
        decoded = json.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        decoded = None
    if not isinstance(decoded, dict):
        raise ValueError("Client context must be a valid Base64-encoded JSON object.")
    return decoded


def parse_payload(body: bytes) -> Mapping[str, Any] | None:
    """The event to pass, or None when there is no payload (the rule fires "now").

    The functions are scheduled functions: their event is a JSON object, so
    anything else is refused here rather than failing inside the handler.
    """
    if not body.strip():
        return None
    try:
        event = json.loads(body, parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"Could not parse request body into json: not UTF-8 ({exc.reason})"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"Could not parse request body into json: {exc}") from None
    except RecursionError:
        raise ValueError(
            "Could not parse request body into json: nested too deeply to read"
        ) from None
    if not isinstance(event, dict):
        raise ValueError(
            f"The payload is a JSON {type(event).__name__}; these are scheduled functions, "
            "send a JSON object (an EventBridge event) or no payload at all"
        )
    return event


def _refuse_constant(name: str) -> Any:
    """Python reads ``NaN`` and ``Infinity`` as numbers; JSON, and Lambda, do not."""
    raise ValueError(f"Could not parse request body into json: {name} is not a JSON value")


def split_qualifier(name: str) -> tuple[str, str | None]:
    """``name`` as the Invoke API accepts it -> (function name, qualifier or None).

    Accepted forms: ``fn``, ``fn:qualifier``, ``arn:aws:lambda:region:account:function:fn``
    and the partial ``account:function:fn``, each with an optional ``:qualifier``.
    """
    parts = name.split(":")
    if parts[0] == "arn" and len(parts) in (7, 8) and parts[5] == "function":
        return parts[6], (parts[7] if len(parts) == 8 else None)
    if len(parts) in (3, 4) and parts[1] == "function":
        return parts[2], (parts[3] if len(parts) == 4 else None)
    if len(parts) == 2:
        return parts[0], parts[1]
    return name, None


def arn_scope(name: str) -> tuple[str | None, str | None]:
    """The (region, account) an ARN or partial ARN names; None for what it leaves out."""
    parts = name.split(":")
    if parts[0] == "arn" and len(parts) in (7, 8) and parts[5] == "function":
        return parts[3], parts[4]
    if len(parts) in (3, 4) and parts[1] == "function":
        return None, parts[0]
    return None, None


def find_function(functions: Sequence[FunctionSpec], name: str) -> FunctionSpec | None:
    """The function whose deployed name (``<app>-<stage>-<fn>``) or short name is ``name``."""
    for function in functions:
        if name in (function.lambda_name, function.name):
            return function
    return None
