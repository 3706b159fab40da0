"""uvicorn's httptools protocol with request deadlines, a lingering close and a JSON 400.

uvicorn has no setting for a request that stops arriving. Here a request must
deliver its headers within ``header_timeout`` seconds of its first byte (or
of the connection opening) and its body within ``body_timeout`` seconds of its
headers, or it is answered 408 (unless an answer is being written) and closed.

After an early answer (401, 413, ...) the rest of the body is read and dropped,
up to ``drain_limit`` bytes; a close the answer asks for (``Connection:
close``, HTTP/1.0) waits until the body has arrived, so clients that send the
whole body before reading (urllib, http.client) see the status, not a reset.
A request the parser refuses gets a JSON 400 naming the parser's reason.

This reaches into uvicorn's internals: uvicorn is pinned exactly, at
``UVICORN_VERSION``, and tests/api/test_protocol_internals.py fails when what
is used here moves.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
UVICORN_VERSION = "0.54.0"
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DRAIN_LIMIT = 16 * 1024 * 1024
REASONS = {400: b"Bad Request", 408: b"Request Timeout"}


class LingeringTransport:
    """The transport as a request cycle sees it: a close asked for while the
    request body is still arriving waits until the body has arrived."""

    def __init__(self, transport: asyncio.Transport, protocol: BoundedHttpProtocol):
        self._transport = transport
        self._protocol = protocol

    def close(self) -> None:
        if self._protocol.body_pending:
            self._protocol.close_after_body = True
        else:
            self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with header and body deadlines and a bounded drain of unread bodies."""

    header_timeout = DEFAULT_HEADER_TIMEOUT
    body_timeout = DEFAULT_BODY_TIMEOUT
    drain_limit = DRAIN_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None  # see _arm
        self._timer_at = 0.0  # loop time the timer is set for
        self._due = 0.0  # loop time by which _awaited must have arrived
        self._awaited: tuple[str, float] | None = None  # ("headers"|"body", seconds given)
        self._drained = 0
        self.body_pending = False  # headers in, body not yet complete
        self.close_after_body = False

    @classmethod
    def configured(
        cls, header_timeout: float, body_timeout: float, drain_limit: int = DRAIN_LIMIT
    ) -> type[BoundedHttpProtocol]:
        """This protocol with other bounds (uvicorn instantiates the class it is given)."""
        bounds = {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "drain_limit": drain_limit,
        }
        return type(cls.__name__, (cls,), bounds)

    def _arm(self, seconds: float, what: str) -> None:
        # Each request moves its deadline twice (headers, then body) and clears
        # it once. One timer per connection wakes at the earliest deadline it
        # knows of and sets itself again for one that moved later, instead of a
        # timer made and cancelled at each move.
        self._due = self.loop.time() + seconds
        self._awaited = (what, seconds)
        if self._timer is not None and self._timer_at > self._due:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            self._start_timer()

    def _start_timer(self) -> None:
        self._timer_at = self._due
        self._timer = self.loop.call_at(self._due, self._check_deadline)

    def _disarm(self) -> None:
        self._awaited = None  # the timer, when it fires, finds nothing awaited

    def _check_deadline(self) -> None:
        self._timer = None
        if self._awaited is None:
            return
        if self.loop.time() < self._due:
            self._start_timer()
        else:
            self._timed_out(*self._awaited)

    def _timed_out(self, what: str, seconds: float) -> None:
        self._awaited = None
        if self.transport.is_closing():
            return
        log.debug("%s: closing, %s not received within %s s", self.client, what, seconds)
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            message = f"the request's {what} did not arrive within {seconds:g} s; send it faster"
            self._answer_and_close(408, message)
        else:  # mid-answer: another answer would corrupt it on the wire
            self.transport.close()

    def _answer_and_close(self, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n" % (status, REASONS[status])
        head += b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        self.transport.write(head + body)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()  # a closed connection keeps no timer alive
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            log.warning("%s: unsupported upgrade request", self.client)
        except httptools.HttpParserError as error:
            cycle = self.cycle
            if cycle is not None and cycle.response_started and not cycle.response_complete:
                self.transport.close()  # mid-answer: a 400 would corrupt it on the wire
                return
            self._answer_and_close(400, f"malformed HTTP request: {error}")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._drained = 0
        self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout, "body")
        self.body_pending, self.close_after_body = True, False
        super().on_headers_complete()
        # A kept-alive cycle lets the parser drop the rest of an unread body;
        # only one that closes the connection needs its close put off.
        if self.cycle is not None and not self.cycle.keep_alive:
            self.cycle.transport = LingeringTransport(self.transport, self)  # type: ignore[assignment]

    def on_body(self, body: bytes) -> None:
        if self.cycle is not None and self.cycle.response_complete:
            # Answered already: the rest of the body is read only to be dropped.
            self._drained += len(body)
            if self._drained > self.drain_limit:
                self.transport.close()
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self.body_pending = False
        super().on_message_complete()
        if self.close_after_body:
            self.transport.close()
