"""uvicorn's httptools protocol with what uvicorn has no setting for.

Header and body deadlines (408), a bound on the head (431: httptools holds a
header in memory until it ends), the ``Host`` check (421, against DNS
rebinding), a lingering close after an early answer (the rest of the body is
read and dropped, so urllib sees the status, not a reset) and a JSON 400 for
what the parser refuses. It reaches into uvicorn's internals: uvicorn is
pinned at ``UVICORN_VERSION``, and tests/api/test_protocol_internals.py fails
when what is used here moves.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)
UVICORN_VERSION = "0.54.0"
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DRAIN_LIMIT = 16 * 1024 * 1024
DEFAULT_HEADER_LIMIT = 64 * 1024
REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
App = Callable[..., Awaitable[None]]


def host_name(value: bytes) -> bytes:
    """A ``Host`` header's name or address, lower-cased, without port or brackets."""
    value = value.strip().lower()
    if value.startswith(b"["):
        return value[1 : value.find(b"]")]
    return value.partition(b":")[0].rstrip(b".")


def host_allowed(value: bytes | None, extra: frozenset[bytes]) -> bool:
    """Whether a ``Host`` header names a loopback host or one of ``extra``."""
    if value is None:
        return False
    name = host_name(value)
    if name == b"localhost" or name.endswith(b".localhost") or name in extra:
        return True
    try:
        return ipaddress.ip_address(name.decode("ascii")).is_loopback
    except (ValueError, UnicodeDecodeError):
        return False


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def refusal(status: int, message: str) -> App:
    """An ASGI app answering ``status`` and closing, run in the API's stead (body drained)."""
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]

    async def refuse(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": error_body(message)})

    return refuse


class LingeringTransport:
    """The transport as a cycle sees it: a close asked for mid-body waits for the body."""

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
    """HttpToolsProtocol with deadlines, a head size limit, a Host check and a lingering close."""

    header_timeout = DEFAULT_HEADER_TIMEOUT
    body_timeout = DEFAULT_BODY_TIMEOUT
    drain_limit = DRAIN_LIMIT
    header_limit = DEFAULT_HEADER_LIMIT
    allowed_hosts: frozenset[bytes] = frozenset()
    app: App

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None  # see _arm
        self._due = 0.0  # loop time by which _awaited must have arrived
        self._awaited: tuple[str, float] | None = None  # ("headers"|"body", seconds given)
        self._drained = 0
        self._head_bytes = 0  # of the request's head, so far
        self._heads_done = False  # a head ended in this data_received
        self._read_bytes = 0  # of this data_received
        self._host_answered: list[bytes] | None = None  # the Host headers last let through
        self.body_pending = False  # headers in, body not yet complete
        self.close_after_body = False

    @classmethod
    def configured(cls, **bounds: Any) -> type[BoundedHttpProtocol]:
        """This protocol with other class attributes: uvicorn takes a class."""
        unknown = set(bounds) - {*vars(BoundedHttpProtocol)}
        assert not unknown, f"not a setting of the protocol: {unknown}"
        return type(cls.__name__, (cls,), bounds)

    def _arm(self, seconds: float, what: str) -> None:
        # A request moves its deadline twice and clears it once: rather than a
        # timer made and cancelled at each move, one timer per connection wakes
        # at the earliest deadline it knew of and sets itself again if it moved.
        self._due = self.loop.time() + seconds
        self._awaited = (what, seconds)
        if self._timer is not None and self._timer.when() > self._due:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            self._timer = self.loop.call_at(self._due, self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        if self._awaited is None:
            return
        if self.loop.time() < self._due:
            self._timer = self.loop.call_at(self._due, self._check_deadline)
            return
        (what, seconds), self._awaited = self._awaited, None
        if not self.transport.is_closing():
            log.debug("%s: closing, %s not received within %s s", self.client, what, seconds)
            self._refuse(
                408, f"the request's {what} did not arrive within {seconds:g} s; send it faster"
            )

    def _refuse(self, status: int, message: str) -> None:
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            self.transport.close()  # mid-answer: another answer would corrupt it on the wire
            return
        body = error_body(message)
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n" % (status, REASONS[status])
        head += b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        self.transport.write(head + body)
        self.transport.close()

    def _too_large(self) -> str:
        return f"the request's headers exceed {self.header_limit // 1024} KiB; send smaller ones"

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._awaited = None
        if self._timer is not None:
            self._timer.cancel()  # a closed connection keeps no timer alive
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        in_head, self._heads_done = not self.body_pending, False
        self._read_bytes = len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            log.warning("%s: unsupported upgrade request", self.client)
        except httptools.HttpParserError as error:
            self._refuse(400, f"malformed HTTP request: {error}")
            return
        # Data that neither ended a head nor reached a body is all head: count
        # it (a read that ends a head is checked in on_headers_complete).
        if in_head and not self.body_pending and not self._heads_done:
            self._head_bytes += len(data)
            if self._head_bytes > self.header_limit:
                self._refuse(431, self._too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._drained = 0
        self._arm(self.header_timeout, "headers")

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout, "body")
        self.body_pending, self.close_after_body = True, False
        refused = self._refusal()
        self._heads_done, self._head_bytes = True, 0
        if refused is None:
            super().on_headers_complete()
        else:  # the cycle uvicorn starts here runs the app it reads from self.app
            self.app, app = refused, self.app
            try:
                super().on_headers_complete()
            finally:
                self.app = app
        # A kept-alive cycle lets the parser drop the rest of an unread body;
        # only one that closes the connection needs its close put off.
        if self.cycle is not None and not self.cycle.keep_alive:
            self.cycle.transport = LingeringTransport(self.transport, self)  # type: ignore[assignment]

    def _refusal(self) -> App | None:
        """What answers a request whose head is too large or names a foreign host."""
        # Only a head that arrived with a large read can be too large: sum it then.
        if self._head_bytes + self._read_bytes > self.header_limit:
            size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
            if size > self.header_limit:
                return refusal(431, self._too_large())
        hosts = [value for name, value in self.headers if name == b"host"]
        if hosts == self._host_answered:  # as the connection's last request: known good
            return None
        if len(hosts) == 1 and host_allowed(hosts[0], self.allowed_hosts):
            self._host_answered = hosts
            return None
        host = hosts[0].decode("latin-1")[:100] if hosts else ""
        return refusal(
            421,
            f"Host {host!r} refused: the results API answers localhost, 127.0.0.1 or [::1],"
            " and the names of ALLOWED_HOSTS when bound beyond loopback",
        )

    def on_body(self, body: bytes) -> None:
        if self.cycle is not None and self.cycle.response_complete:
            # Answered already: the rest of the body is read only to be dropped.
            self._drained += len(body)
            if self._drained > self.drain_limit:
                self.transport.close()
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._awaited = None  # the timer, when it fires, finds nothing awaited
        self.body_pending = False
        super().on_message_complete()
        if self.close_after_body:
            self.transport.close()
