"""POST /result answered from the HTTP protocol's callbacks, without an ASGI request cycle.

Through ASGI, every post costs uvicorn a request-cycle object with its event,
an asyncio task, the app's coroutines, a receive and two send messages: about
a fifth of the event loop's time per post. Most posts arrive the plain way (HTTP/1.1,
kept alive, not pipelined behind an unanswered request, no ``Expect``), and
for those the protocol (``api/protocol.py``) holds a ``FastPost`` instead of
uvicorn's cycle: it checks the headers when they are complete, gathers the
body, and when the body is complete queues the post for the next group commit;
the answer is written when the commit's future settles. The steps, the limits
and the answers are those of the ASGI endpoint (``api/post.py``), which still
serves every other post.

A ``FastPost`` has the attributes of uvicorn's cycle that the protocol and
uvicorn read (``response_started``, ``response_complete``, ``keep_alive``,
``disconnected``, ``message_event``), so a pipelined request behind it, a
lost connection and a graceful shutdown are handled as for any cycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from time import perf_counter

from api.body import MAX_BODY_BYTES, parse_object, too_large
from api.metrics import ApiMetrics
from api.post import Answer, check_head, error_answer, posted_answer
from api.records import Added, NewResult
from api.service import ApiContext, conclude

Headers = Sequence[tuple[bytes, bytes]]
StartFastPost = Callable[
    [Callable[[bytes], None], Headers, Callable[["FastPost"], None]], "FastPost | None"
]
"""``ResultsApp.fast_post``: a post given how to write, uvicorn's default headers
(the date) and what to call once answered; None while the app is not serving."""
JSON_HEADERS = b"content-type: application/json\r\ncontent-length: "


def status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())


STATUS_LINES = {status: status_line(status) for status in (200, 201)}


class _NoWaiter:
    """The cycle's ``message_event``: uvicorn sets it; nothing here waits on it."""

    def set(self) -> None:
        pass


class FastPost:
    """One POST /result on a connection, from its complete headers to its answer."""

    message_event = _NoWaiter()

    def __init__(
        self,
        context: ApiContext,
        metrics: ApiMetrics,
        write: Callable[[bytes], None],
        default_headers: Headers,
        on_response: Callable[[FastPost], None],
    ):
        self._context = context
        self._metrics = metrics
        self._write = write
        self._default_headers = default_headers
        self._on_response = on_response
        self._started = perf_counter()
        self._key: str | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        # What uvicorn's request cycle has, and the protocol and uvicorn read.
        self.keep_alive = True  # a graceful shutdown clears it: close after the answer
        self.disconnected = False
        self.response_started = False
        self.response_complete = False

    def begin(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """The headers are complete: a post they refuse is answered now, before its body."""
        try:
            self._key = check_head(headers, self._context.token)
        except Exception as error:
            self._answer(error_answer(error))

    def feed(self, chunk: bytes) -> None:
        """A piece of the body; past the limit, 413 now (the protocol drops the rest)."""
        self._size += len(chunk)
        if self._size > MAX_BODY_BYTES:
            self._answer(error_answer(too_large(MAX_BODY_BYTES)))
        else:
            self._chunks.append(chunk)

    def complete(self) -> None:
        """The body is complete: queue the post for the next commit."""
        if self.response_complete:
            return
        try:
            result = parse_object(b"".join(self._chunks))
            new = self._context.service.prepare(result, self._key)
            stored = self._context.service.submit(new)
        except Exception as error:
            self._answer(error_answer(error))
            return
        stored.add_done_callback(lambda future: self._committed(new, future))

    def _committed(self, new: NewResult, stored: asyncio.Future[Added]) -> None:
        try:
            answer = posted_answer(conclude(new, stored.result()))
        except Exception as error:
            answer = error_answer(error)
        self._answer(answer)

    def _answer(self, answer: Answer) -> None:
        status, text, extra = answer
        self.response_started = self.response_complete = True
        if not self.disconnected:
            self._write(self._response(status, text.encode(), extra))
        self._metrics.observe("POST", "/result", status, perf_counter() - self._started)
        self._on_response(self)

    def _response(self, status: int, body: bytes, extra: Mapping[str, str] | None) -> bytes:
        """The answer's bytes, headers in the order uvicorn writes them for the endpoint."""
        lines = [STATUS_LINES.get(status) or status_line(status)]
        lines += [name + b": " + value + b"\r\n" for name, value in self._default_headers]
        lines.append(JSON_HEADERS + b"%d\r\n" % len(body))
        for name, value in (extra or {}).items():
            lines.append(name.lower().encode() + b": " + value.encode() + b"\r\n")
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        lines += [b"\r\n", body]
        return b"".join(lines)
