"""A post as POST /result checks it: its head before its body is read (``api/protocol.py``
drops the body of a refused one), then the body, its size enforced as it arrives."""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Iterable
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import Receive

from api.errors import ApiError

MAX_BODY_BYTES = 1024 * 1024
MAX_KEY_LENGTH = 255
# Headers whose second copy would make the request ambiguous (RFC 9110/9112):
# which token, which media type, which key? Refused rather than guessed.
SINGLE = {
    b"authorization": "Authorization",
    b"content-type": "Content-Type",
    b"idempotency-key": "Idempotency-Key",
    b"content-length": "Content-Length",
    b"transfer-encoding": "Transfer-Encoding",
}
JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number"}


def check_head(raw: Iterable[tuple[bytes, bytes]], token: str | None) -> str | None:
    """Refuse a post by its headers, in this order; its Idempotency-Key."""
    headers: dict[bytes, str] = {}
    for name, value in raw:
        if name in SINGLE:
            if name in headers:
                raise ApiError(400, f"send at most one {SINGLE[name]} header")
            headers[name] = value.decode("latin-1")
    if b"content-length" in headers and b"transfer-encoding" in headers:
        raise ApiError(400, "send Content-Length or Transfer-Encoding, not both")
    authorize(headers.get(b"authorization"), token)
    require_json_media_type(headers.get(b"content-type"))
    key = headers.get(b"idempotency-key")
    if key is not None and not (
        0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()
    ):
        raise ApiError(
            400,
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters,"
            f" got {key[:40]!r}; a key such as 'registrations_per_day/2022-12-21T00:05:00Z'",
        )
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    return key


def authorize(header: str | None, token: str | None) -> None:
    """401 unless ``header`` is ``Bearer <token>`` (compared in constant time)."""
    if token is None:
        return
    scheme, _, given = (header or "").partition(" ")
    # Header values arrive decoded as Latin-1: encoding them back gives the raw bytes.
    given_bytes = given.strip().encode("latin-1")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given_bytes, token.encode()):
        raise ApiError(
            401,
            "missing or wrong bearer token: send 'Authorization: Bearer <RESULTS_API_TOKEN>'",
            {"WWW-Authenticate": "Bearer"},
        )


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


def too_large() -> ApiError:
    return ApiError(413, f"body is larger than {MAX_BODY_BYTES} bytes: post a smaller result")


async def read_limited(receive: Receive) -> bytes:
    """The whole body, refusing (413) as soon as it passes MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class _NotJsonError(ValueError):
    """A number JSON cannot carry (NaN, Infinity, or one too large for a double)."""


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
        value = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ApiError(
            400, f"body is not valid UTF-8 (byte {error.start}): send UTF-8 JSON"
        ) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ApiError(400, f"body is not valid JSON: {error.msg} at {where}") from None
    except _NotJsonError as error:
        raise ApiError(400, f"body is not valid JSON: {error}") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise ApiError(400, f"body holds a value that cannot be read: {error}") from None
    except RecursionError:
        raise ApiError(400, "body nests arrays/objects too deeply") from None
    if isinstance(value, dict):
        return value
    kind = "null" if value is None else JSON_KINDS.get(type(value), type(value).__name__)
    if isinstance(value, bool):
        kind = f"the boolean {json.dumps(value)}"
    raise ApiError(422, f"body must be a JSON object, got {kind}")
