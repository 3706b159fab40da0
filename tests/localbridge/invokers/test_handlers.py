"""Calling a handler as Lambda's Python runtime does: payload marshalling and errors."""

from __future__ import annotations

import enum
import functools
import json
from typing import Any

import pytest

from localbridge.invokers.handlers import HandlerLoadError, call_handler, load_handler
from localbridge.model import Outcome


class Colour(enum.IntEnum):
    RED = 1


class Ratio(float):
    pass


@pytest.mark.parametrize(
    ("returned", "payload"),
    [
        (None, None),
        ("text", "text"),
        (7, 7),
        (True, True),
        (1.5, 1.5),
        (0.1 + 0.2, 0.30000000000000004),
        (float("inf"), float("inf")),
        (Ratio(0.5), 0.5),
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


def returning(value: float, event: dict[str, Any], context: Any) -> float:
    return value


def test_nan_and_negative_zero_come_back_as_json_gives_them() -> None:
    for returned in (float("nan"), -0.0):
        expected = json.loads(json.dumps(returned))
        payload = call_handler(functools.partial(returning, returned), {}, None).payload
        assert type(payload) is float
        assert repr(payload) == repr(expected)


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
