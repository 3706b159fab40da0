"""Calling a handler as Lambda's Python runtime does: payload marshalling and errors."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from localbridge.invokers.handlers import HandlerLoadError, call_handler, load_handler
from localbridge.model import Outcome


class Colour(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    ("returned", "payload"),
    [
        (None, None),
        ("text", "text"),
        (7, 7),
        (True, True),
        (1.5, 1.5),
        ((1, 2), [1, 2]),
        ({"n": (1,)}, {"n": [1]}),
        (Colour.RED, 1),
    ],
)
def test_payload_is_what_json_gives_back(returned: Any, payload: Any) -> None:
    outcome = call_handler(lambda event, context: returned, {}, None)

    assert outcome.outcome is Outcome.SUCCEEDED
    assert outcome.payload == payload
    assert type(outcome.payload) is type(payload)


def test_exception_traceback_starts_at_the_handler() -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        raise KeyError("missing")

    outcome = call_handler(handler, {}, None)

    assert (outcome.outcome, outcome.error_type) == (Outcome.ERROR, "KeyError")
    assert outcome.traceback is not None
    assert "call_handler" not in outcome.traceback
    assert "in handler" in outcome.traceback


def test_handler_string_without_a_module_is_malformed() -> None:
    with pytest.raises(HandlerLoadError) as raised:
        load_handler("lonely")
    assert raised.value.outcome.error_type == "Runtime.MalformedHandlerName"
