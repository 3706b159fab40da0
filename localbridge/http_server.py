"""A standard-library HTTP server run from a background thread: what the Invoke
API and the console share.

``bind`` takes the port first, so ``run`` can fail on a busy port before
anything else starts, while requests wait in the listen queue until ``serve``.
One thread per connection, so a long invocation or a live page's event stream
does not hold up the others.

What ``http.server`` leaves to its users, done here once for both servers:

- **Deadlines.** A request must deliver its headers within ``header_timeout``
  seconds of the server starting to wait for it, and its body within
  ``body_timeout`` seconds of its headers: each read of the socket waits at
  most what is left, so a client trickling one byte at a time is cut off all
  the same. A request cut off after it began is answered 408; an idle
  kept-alive connection is closed quietly. Without this, every half-sent
  request holds a thread for good.
- **A bound on connections.** Beyond ``max_connections`` held at once, a new
  connection is answered 503 and closed at once, by the accepting thread.
- **The Host check** (``localbridge.hosts``): a request naming a host the
  server does not answer to is refused with 421 before anything runs.

A handler subclasses ``GuardedRequestHandler`` and says how it answers a
refusal (``refuse``), in its own format.
"""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from localbridge.hosts import HostPolicy

DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
# A client that stops reading an answer is dropped after this long.
DEFAULT_WRITE_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 256
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 40\r\nConnection: close\r\n\r\n"
    b"too many connections; retry in a moment\n"
)


@dataclass(frozen=True)
class Limits:
    """How long a request may take to arrive, and how many connections are held at once."""

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    write_timeout: float = DEFAULT_WRITE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS


class DeadlineExceededError(TimeoutError):
    """A request's headers or body did not arrive in time (``http.server`` closes on it)."""


class _DeadlineSocketIO(io.RawIOBase):
    """The connection's read side, each read bounded by the current phase's deadline."""

    def __init__(self, sock: socket.socket, on_expired: Any) -> None:
        self._sock = sock
        self._on_expired = on_expired
        self.phase = "headers"
        self.seconds = 0.0
        self.due = float("inf")
        self.received = 0  # bytes read in this phase

    def start(self, phase: str, seconds: float) -> None:
        self.phase, self.seconds, self.received = phase, seconds, 0
        self.due = time.monotonic() + seconds

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.due - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            count = self._sock.recv_into(buffer)
        except TimeoutError:
            self._on_expired(self.phase, self.seconds, self.received)
            raise DeadlineExceededError(f"{self.phase} not received in time") from None
        self.received += count
        return count


class GuardedRequestHandler(BaseHTTPRequestHandler):
    """``BaseHTTPRequestHandler`` with deadlines and the Host check (see the module)."""

    limits: ClassVar[Limits] = Limits()
    hosts: ClassVar[HostPolicy] = HostPolicy("127.0.0.1")
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, a
    # keep-alive client waits out its delayed ACK (~40 ms) between them.
    disable_nagle_algorithm = True

    def refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with ``message`` in this server's format (and close)."""
        raise NotImplementedError

    def setup(self) -> None:
        super().setup()
        self._reads = _DeadlineSocketIO(self.connection, self._expired)
        self.rfile = io.BufferedReader(self._reads)

    def handle_one_request(self) -> None:
        self._answering = False
        # What an answer sent before the request line was read (a 408) needs.
        self.requestline, self.command, self.request_version = "", "", "HTTP/1.1"
        self._reads.start("headers", self.limits.header_timeout)
        super().handle_one_request()

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not self.hosts.allows(hosts[0]):
            self.close_connection = True
            shown = hosts[0] if len(hosts) == 1 else None
            message = self.hosts.refusal(shown) if len(hosts) < 2 else "more than one Host header"
            self.refuse(421, message)
            return False
        self._reads.start("body", self.limits.body_timeout)
        return True

    def end_headers(self) -> None:
        # From here the socket is written: a client that does not read the
        # answer gets the write timeout, not what was left of a read deadline.
        self._answering = True
        self.connection.settimeout(self.limits.write_timeout)
        super().end_headers()

    def _expired(self, phase: str, seconds: float, received: int) -> None:
        self.close_connection = True
        if self._answering or (phase == "headers" and received == 0):
            return  # mid-answer, or an idle kept-alive connection: just close
        try:
            self.connection.settimeout(self.limits.write_timeout)
            self.refuse(408, f"the request's {phase} did not arrive within {seconds:g} s")
        except OSError:
            pass  # the client is gone too


class _Server(ThreadingHTTPServer):
    # http.server's backlog of 5 turns a burst of clients away; the kernel caps this.
    request_queue_size = socket.SOMAXCONN
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, max_connections: int) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            turn_away(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up before its answer was written (a probe that gave
        # up) is no fault of the server's: no traceback on the console for it.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def turn_away(request: socket.socket) -> None:
    """503 and close, without a thread: the answer fits an empty send buffer."""
    try:
        request.setblocking(False)
        request.send(BUSY_ANSWER)
    except OSError:
        pass
    finally:
        request.close()


class BackgroundHttpServer:
    """One listening socket, served from a daemon thread between ``serve`` and ``stop``."""

    def __init__(
        self,
        host: str,
        port: int,
        handler: type[GuardedRequestHandler],
        limits: Limits | None = None,
        hosts: HostPolicy | None = None,
    ) -> None:
        """Listen on host:port now (``OSError`` when it is taken; port 0 picks a free one).

        ``hosts`` defaults to the policy of a server bound to ``host``, with
        ``ALLOWED_HOSTS`` from the environment.
        """
        limits = limits or handler.limits
        bound = type(
            handler.__name__,
            (handler,),
            {"limits": limits, "hosts": hosts or HostPolicy.for_address(host)},
        )
        self._server: ThreadingHTTPServer | None = _Server(
            (host, port), bound, limits.max_connections
        )
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def serve(self, thread_name: str) -> None:
        assert self._server is not None, "stopped"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=thread_name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; a request being answered may finish."""
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
