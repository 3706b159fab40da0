"""Reading a POST body from ASGI: media type, size (enforced while reading), JSON object."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.types import Receive

from api.errors import ApiError, ClientGoneError

MAX_BODY_BYTES = 1024 * 1024
JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}


class _NotJsonError(ValueError):
    """A number JSON cannot carry (NaN, Infinity, or one too large for a double)."""


def require_json_media_type(content_type: str | None) -> None:
    """415 unless the body is declared as JSON in UTF-8."""
    hint = "send the body as JSON with 'Content-Type: application/json'"
    if content_type == "application/json":  # what nearly every post sends
        return
    if not content_type:
        raise ApiError(415, f"missing Content-Type: {hint}")
    media_type, *params = (part.strip() for part in content_type.split(";"))
    media_type = media_type.lower()
    structured = "/" in media_type and media_type.endswith("+json")  # e.g. application/vnd.x+json
    if media_type != "application/json" and not structured:
        raise ApiError(415, f"unsupported Content-Type {media_type!r}: {hint}")
    for param in params:
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in {"utf-8", "utf8"}:
            raise ApiError(415, f"unsupported charset {charset!r}: send the JSON body as UTF-8")


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"body is larger than {limit} bytes: post a smaller result")


async def read_limited(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, refusing (413) as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJsonError(f"number {text[:40]} is too large for a double")
    return value


def _reject_constant(name: str) -> Any:
    raise _NotJsonError(f"{name} is not valid JSON; send null or a finite number")


# Built once: json.loads with hooks builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_reject_constant)


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; 400 for text that is not JSON, 422 for other JSON values."""
    if not raw.strip():
        raise ApiError(400, 'empty body: send a JSON object such as {"metric": "x", "value": 1}')
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(
            400, f"body is not valid UTF-8 (byte {error.start}): send UTF-8 JSON"
        ) from None
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ApiError(400, f"body is not valid JSON: {error.msg} at {where}") from None
    except _NotJsonError as error:
        raise ApiError(400, f"body is not valid JSON: {error}") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise ApiError(400, f"body holds a value that cannot be read: {error}") from None
    except RecursionError:
        raise ApiError(400, "body nests arrays/objects too deeply") from None
    if not isinstance(value, dict):
        raise ApiError(422, f"body must be a JSON object, got {describe(value)}")
    return value


def describe(value: object) -> str:
    """How a JSON value reads to a person: 'an array', 'a string', 'null', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {json.dumps(value)}"
    return JSON_KINDS.get(type(value), type(value).__name__)
