"""POST /result: one FastAPI route, headers checked before the body is read.

A post the headers refuse (401, 413 by Content-Length, 415, 400) is answered
before its body is read; the HTTP protocol (``api/protocol.py``) then drops
the rest of the body, so clients that send it whole before reading (urllib,
http.client) still get the answer. The body is read with its size enforced
as it arrives, parsed, and stored through the group commit (``api/writer.py``);
the answer goes out once the commit holding it is done.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from api.body import MAX_BODY_BYTES, parse_object, read_limited, require_json_media_type, too_large
from api.errors import ApiError, json_text
from api.service import MAX_KEY_LENGTH, ApiContext, check_idempotency_key, record_json

# Headers whose second copy would make the request ambiguous (RFC 9110/9112):
# which token, which media type, which key? Refused rather than guessed.
SINGLE = {
    b"authorization": "Authorization",
    b"content-type": "Content-Type",
    b"idempotency-key": "Idempotency-Key",
    b"content-length": "Content-Length",
    b"transfer-encoding": "Transfer-Encoding",
}
UNAUTHORIZED = "RESULTS_API_TOKEN is set and the bearer token is missing or wrong"
RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "stored; the record"},
    200: {"description": "a repeat of an Idempotency-Key with the same JSON value"},
    400: {"description": "malformed JSON, a bad Idempotency-Key, a repeated header"},
    401: {"description": UNAUTHORIZED},
    409: {"description": "the Idempotency-Key was already used for a different result"},
    413: {"description": f"the body is over {MAX_BODY_BYTES} bytes"},
    415: {"description": "the Content-Type is not JSON"},
    422: {"description": "the JSON value is not an object, or its metric is not text"},
    503: {"description": "the store failed; nothing was stored"},
}
# The route reads its headers and body itself (each header at most once, the
# size enforced while reading, JSON errors worded for people): FastAPI is told
# their shape rather than parsing them.
REQUEST: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "one stored result per key",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


def single_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[bytes, str]:
    """The headers of SINGLE, each at most once (400 otherwise), decoded as Latin-1."""
    found: dict[bytes, str] = {}
    for name, value in raw:
        if name in SINGLE:
            if name in found:
                raise ApiError(400, f"send at most one {SINGLE[name]} header")
            found[name] = value.decode("latin-1")
    if b"content-length" in found and b"transfer-encoding" in found:
        raise ApiError(400, "send Content-Length or Transfer-Encoding, not both")
    return found


def authorize(header: str | None, token: str | None) -> None:
    """401 unless ``header`` is ``Bearer <token>`` (compared in constant time)."""
    if token is None:
        return
    scheme, _, given = (header or "").partition(" ")
    # Header values arrive decoded as Latin-1: encoding them back gives the raw bytes.
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("latin-1"), token.encode()
    )
    if not ok:
        raise ApiError(
            401,
            "missing or wrong bearer token: send 'Authorization: Bearer <RESULTS_API_TOKEN>'",
            {"WWW-Authenticate": "Bearer"},
        )


def check_head(raw: Iterable[tuple[bytes, bytes]], token: str | None) -> str | None:
    """Refuse a post by its headers, in this order, before its body is read; its key."""
    headers = single_headers(raw)
    authorize(headers.get(b"authorization"), token)
    require_json_media_type(headers.get(b"content-type"))
    key = headers.get(b"idempotency-key")
    if key is not None:
        check_idempotency_key(key)
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large(MAX_BODY_BYTES)
    return key


class PlainRoute(APIRoute):
    """A route whose endpoint takes the request and returns the response itself.

    FastAPI's documented hook for a custom route (``get_route_handler``): the
    route, its OpenAPI entry and the app's middleware and error handlers stay
    FastAPI's, but no dependency is solved per request (the endpoint declares
    none: it reads its headers and body itself, see REQUEST above).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


async def post_result(request: Request) -> Response:
    """Store a JSON object; 201 with the record, 200 when its Idempotency-Key
    repeats with the same JSON value."""
    context: ApiContext = request.app.state.context
    key = check_head(request.scope["headers"], context.token)
    result = parse_object(await read_limited(request.receive))
    posted = await context.service.post(result, key)
    return json_text(record_json(posted.result), 201 if posted.created else 200)


def add_post_route(app: FastAPI) -> None:
    app.router.add_api_route(
        "/result",
        post_result,
        methods=["POST"],
        status_code=201,
        responses=RESPONSES,
        openapi_extra=REQUEST,
        route_class_override=PlainRoute,
    )
