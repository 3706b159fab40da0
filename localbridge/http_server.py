"""A standard-library HTTP server run from a background thread: what the Invoke
API and the console share.

``bind`` takes the port first, so ``run`` can fail on a busy port before
anything else starts, while requests wait in the listen queue until ``serve``.
One thread per connection, so a long invocation or a live page's event stream
does not hold up the others.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # http.server's backlog of 5 turns a burst of clients away; the kernel caps this.
    request_queue_size = socket.SOMAXCONN
    daemon_threads = True


class BackgroundHttpServer:
    """One listening socket, served from a daemon thread between ``serve`` and ``stop``."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        """Listen on host:port now (``OSError`` when it is taken; port 0 picks a free one)."""
        self._server: ThreadingHTTPServer | None = _Server((host, port), handler)
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
