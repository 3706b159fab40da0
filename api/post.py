"""POST /result, the hot path, as a plain ASGI endpoint.

It reads the raw ASGI headers and body itself instead of going through FastAPI's
request, dependency and routing layers: those cost more per post than parsing
and storing it. Headers are checked before the body is read, so a refused post
(401, 413 by Content-Length, 415, 400) is answered early; the HTTP protocol
(``api/protocol.py``) then reads and discards the unread body up to a bound, so
clients that send the whole body before reading (urllib, http.client) get the
answer too. A client that disconnects mid-body costs one debug line.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
from time import perf_counter

from starlette.types import Receive, Scope, Send

from api.body import (
    MAX_BODY_BYTES,
    ClientGoneError,
    parse_object,
    read_limited,
    require_json_media_type,
    too_large,
)
from api.errors import ApiError
from api.metrics import ApiMetrics
from api.responses import error_json
from api.service import ApiContext, Posted, check_idempotency_key, record_json
from api.storage import StoreError

log = logging.getLogger(__name__)
# Headers whose second copy would make the request ambiguous (RFC 9110/9112):
# which token, which media type, which key? Refused rather than guessed.
SINGLE = {
    b"authorization": "Authorization",
    b"content-type": "Content-Type",
    b"idempotency-key": "Idempotency-Key",
    b"content-length": "Content-Length",
    b"transfer-encoding": "Transfer-Encoding",
}
JSON_HEADER = (b"content-type", b"application/json")
STORE_FAILED = "results store unavailable, nothing was stored; retry later"


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


def check_declared_length(declared: str | None, limit: int = MAX_BODY_BYTES) -> None:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)


Answer = tuple[int, str, Mapping[str, str] | None]
"""A response: status, JSON text, extra headers."""


def check_head(raw: Iterable[tuple[bytes, bytes]], token: str | None) -> str | None:
    """Check a post's headers before its body is read; its idempotency key, if any."""
    headers = single_headers(raw)
    authorize(headers.get(b"authorization"), token)
    require_json_media_type(headers.get(b"content-type"))
    raw_key = headers.get(b"idempotency-key")
    key = None if raw_key is None else check_idempotency_key(raw_key)
    check_declared_length(headers.get(b"content-length"))
    return key


def posted_answer(posted: Posted) -> Answer:
    return (201 if posted.created else 200), record_json(posted.result), None


def error_answer(error: Exception) -> Answer:
    """The answer to a post that failed with ``error``; the server log gets what it must."""
    if isinstance(error, ApiError):
        return error.status, error_json(error.message), error.headers
    if isinstance(error, StoreError):
        log.error("results store failed: %s", error)
        return 503, error_json(f"{STORE_FAILED} ({error})"), None
    # A bug: the traceback goes to the server log.
    log.error("unhandled error on POST /result", exc_info=error)
    return 500, error_json("internal error; the server log has the details"), None


async def send_json(
    send: Send, status: int, text: str, headers: Mapping[str, str] | None = None
) -> None:
    body = text.encode()
    raw = [JSON_HEADER, (b"content-length", b"%d" % len(body))]
    raw += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class PostEndpoint:
    """ASGI app for POST /result; ``context()`` gives the running app's service and token.

    It counts and times its requests in ``metrics`` itself: it knows the status
    it answers, so it needs no wrapper around ``send`` to learn it. The HTTP
    protocol answers most posts without it (``api/fast_post.py``), with the
    same steps; this serves the rest (pipelined, ``Connection: close``, HTTP/1.0,
    ``Expect``) and in-process clients.
    """

    def __init__(self, context: Callable[[], ApiContext], metrics: ApiMetrics):
        self._context = context
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = perf_counter()
        status = 500  # what the metrics count when no answer could be sent
        try:
            answer = await self._answer(scope, receive)
            if answer is not None:
                await send_json(send, *answer)
                status = answer[0]
        finally:
            self._metrics.observe("POST", "/result", status, perf_counter() - started)

    async def _answer(self, scope: Scope, receive: Receive) -> Answer | None:
        """What to answer; None for a client gone before its body arrived."""
        try:
            context = self._context()
            key = check_head(scope["headers"], context.token)
            result = parse_object(await read_limited(receive))
            return posted_answer(await context.service.post(result, key))
        except ClientGoneError:
            log.debug("client %s disconnected before its body arrived", scope.get("client"))
            return None
        except Exception as error:
            return error_answer(error)
