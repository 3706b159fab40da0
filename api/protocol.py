"""The HTTP/1.1 protocol the API serves with: uvicorn's httptools protocol, bounded in time.

A plain POST /result (HTTP/1.1, kept alive, not pipelined behind an unanswered
request, no ``Expect``) is answered here, through ``api/fast_post.py``, without
an ASGI request cycle; every other request goes to the app through uvicorn.

uvicorn times out idle keep-alive connections, but not a request that stops
arriving: a client sending half its headers or half its body would hold the
connection forever. Here every request must deliver its headers within
``header_timeout`` seconds of its first byte (or of the connection opening) and
its body within ``body_timeout`` seconds of its headers; otherwise it is
answered 408 (when nothing was answered yet) and closed.

An early answer (401, 413, ... sent before the body was read) leaves the body
coming. Closing then would reset the connection, and clients that send the
whole body before reading the answer (urllib, http.client) would see the reset
instead of the status. So the rest of the body is read and dropped, and a close
the request cycle asks for (``Connection: close``) waits until the body has
arrived: a lingering close, bounded by ``drain_limit`` bytes and the body
timeout. A request the parser refuses (e.g. Content-Length with
Transfer-Encoding, a duplicate Content-Length) gets a JSON 400 naming the
parser's reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.fast_post import FastPost, StartFastPost

log = logging.getLogger(__name__)
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DRAIN_LIMIT = 16 * 1024 * 1024


class CoalescingTransport:
    """A connection's transport that sends a response's head together with its body.

    uvicorn writes the status line and headers, then the body: two send calls
    and two TCP segments per answer, and a client reading the head before the
    body. Here the first write is held and goes out with the next one (one
    ``writelines``, a single send); a write that nothing follows in the same
    event-loop step is sent at the end of that step, and anything held goes
    out before a close. Every write of the connection passes through here, so
    the order of the bytes is kept.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._held = None
            self._transport.writelines((held, data))

    def write_whole(self, data: bytes) -> None:
        """Send ``data``, a whole answer, now (after anything held)."""
        self.flush()
        self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LingeringTransport:
    """The transport as a request cycle sees it: a close asked for while the request
    body is still arriving is put off until the body has arrived (or a bound hits)."""

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
    """HttpToolsProtocol with header and body timeouts and a bounded drain of unread bodies."""

    header_timeout = DEFAULT_HEADER_TIMEOUT
    body_timeout = DEFAULT_BODY_TIMEOUT
    drain_limit = DRAIN_LIMIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None  # see _arm
        self._due = 0.0  # loop time by which _awaited must have arrived
        self._timer_at = 0.0  # loop time the timer is set for
        self._awaited: str | None = None  # "headers", "body" or None
        self._allowed = 0.0  # seconds _awaited was given, for the 408's message
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
        # Each request moves its deadline twice (headers, then body) and
        # clears it once: a timer per move would be made and cancelled three
        # times per request. One timer per connection wakes at the earliest
        # deadline it knows of and re-arms for a deadline that moved later.
        self._due = self.loop.time() + seconds
        self._awaited = what
        self._allowed = seconds
        if self._deadline is not None and self._timer_at > self._due:
            self._deadline.cancel()  # set to wake later than this deadline: replaced
            self._deadline = None
        if self._deadline is None:
            self._start_timer()

    def _start_timer(self) -> None:
        self._timer_at = self._due
        self._deadline = self.loop.call_at(self._due, self._check_deadline)

    def _disarm(self) -> None:
        self._awaited = None  # the timer, when it fires, finds nothing awaited

    def _check_deadline(self) -> None:
        self._deadline = None
        if self._awaited is None:
            return
        if self.loop.time() < self._due:
            self._start_timer()
            return
        self._timed_out(self._awaited, self._allowed)

    def _timed_out(self, what: str, seconds: float) -> None:
        self._awaited = None
        if self.transport.is_closing():
            return
        log.debug("%s: closing, %s not received within %s s", self.client, what, seconds)
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            message = f"the request's {what} did not arrive within {seconds:g} s; send it faster"
            self._answer_and_close(408, message)
        else:
            self.transport.close()

    def _answer_and_close(self, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        reason = {400: b"Bad Request", 408: b"Request Timeout"}[status]
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n" % (status, reason)
        head += b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        self.transport.write(head + body)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(self._coalescing)  # type: ignore[arg-type]
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._deadline is not None:
            self._deadline.cancel()  # a closed connection keeps no timer alive
            self._deadline = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
        except httptools.HttpParserError as error:
            # Mid-answer, a 400 would corrupt the answer on the wire: only close.
            cycle = self.cycle
            if cycle is not None and cycle.response_started and not cycle.response_complete:
                self.transport.close()
                return
            self._answer_and_close(400, f"malformed HTTP request: {error}")

    def _fast_post(self) -> FastPost | None:
        """A ``FastPost`` for a plain POST /result (api/fast_post.py), else None."""
        parser = self.parser
        if (
            self.url != b"/result"
            or parser.get_method() != b"POST"
            or self.expect_100_continue
            or self.access_log  # uvicorn's access log line is written by its cycle
            or self.limit_concurrency is not None
            or (self.cycle is not None and not self.cycle.response_complete)  # pipelined
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or parser.should_upgrade()
        ):
            return None
        start: StartFastPost | None = getattr(self.app, "fast_post", None)
        if start is None:
            return None
        return start(self._write_answer, self.server_state.default_headers, self._answered)

    def _write_answer(self, data: bytes) -> None:
        # A connection lost while its post was committing is not always marked
        # on the post (a pipelined request behind it holds ``self.cycle``).
        if not self.transport.is_closing():
            self._coalescing.write_whole(data)

    def _answered(self, post: FastPost) -> None:
        """What uvicorn's cycle does once it has answered: close or serve the next request."""
        if not post.keep_alive:
            self.transport.close()
        self.on_response_complete()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._drained = 0
        self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout, "body")
        self.body_pending, self.close_after_body = True, False
        fast = self._fast_post()
        if fast is not None:
            self.cycle = fast  # type: ignore[assignment]  # has what the protocol reads
            fast.begin(self.headers)
            return
        super().on_headers_complete()
        # Only a cycle that will close the connection needs its close put off;
        # a kept-alive one lets the parser drop the rest of an unread body.
        if self.cycle is not None and not self.cycle.keep_alive:
            self.cycle.transport = LingeringTransport(self.transport, self)  # type: ignore[assignment]

    def on_body(self, body: bytes) -> None:
        cycle: object = self.cycle
        if self.cycle is not None and self.cycle.response_complete:  # a FastPost's too
            # Answered already: the rest of the body is read only to be dropped.
            self._drained += len(body)
            if self._drained > self.drain_limit:
                self.transport.close()
        elif isinstance(cycle, FastPost):
            cycle.feed(body)
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self.body_pending = False
        cycle: object = self.cycle
        if isinstance(cycle, FastPost):
            cycle.complete()
        else:
            super().on_message_complete()
        if self.close_after_body:
            self.transport.close()
