"""The console over HTTP: the standard library's threading server on 127.0.0.1.

Why not the FastAPI/uvicorn stack the results API uses: the runtime is built
on threads, the console's work is a few SQLite reads per page, and the Lambda
Invoke API beside it is already an ``http.server``; a second event loop in
the ``run`` process would buy nothing. One thread per connection also suits
``/events``, the server-sent events a live page listens to: it sends an event
whenever the ledger changes (checked every ``POLL_S`` seconds).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from localbridge.console import DEFAULT_HOST as DEFAULT_HOST  # public here too
from localbridge.console import DEFAULT_PORT as DEFAULT_PORT
from localbridge.http_server import BackgroundHttpServer, GuardedRequestHandler, Limits

if TYPE_CHECKING:
    from localbridge.console.app import Console, Response

MAX_FORM_BYTES = 64 * 1024
POLL_S = 0.25
HEARTBEAT_S = 15.0


class ConsoleRequestHandler(GuardedRequestHandler):
    """One request to the console; ``handler_class`` binds it to its server.

    Deadlines, the connection bound and the Host check (a page reached
    through DNS rebinding would read the action token) come from
    ``GuardedRequestHandler``.
    """

    owner: ClassVar[ConsoleServer]
    server_version = "localbridge-console"

    def refuse(self, status: int, message: str) -> None:
        body = f"{message}\n".encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        if url.path == "/events":
            self.stream_events()
            return
        self.send(self.owner.console.get(url.path, parse_qs(url.query)))

    def do_POST(self) -> None:  # noqa: N802
        length_text = self.headers.get("Content-Length") or "0"
        if not length_text.isdigit() or int(length_text) > MAX_FORM_BYTES:
            self.close_connection = True
            self.send(self.owner.console.error(413, "an action's form is at most 64 KiB"))
            return
        body = self.rfile.read(int(length_text)).decode("utf-8", "replace")
        headers = {name: value for name, value in self.headers.items()}
        form = parse_qs(body, keep_blank_values=True)
        self.send(self.owner.console.post(urlsplit(self.path).path, headers, form))

    def send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        # No other site may frame the console (clickjacking the buttons).
        self.send_header("X-Frame-Options", "DENY")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def stream_events(self) -> None:
        """Server-sent events: one ``data:`` line each time the ledger changes."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = self.owner.console.changes()
        quiet = 0.0
        try:
            self.wfile.write(b"retry: 1000\n\n")
            self.wfile.flush()
            while not self.owner.stopping.wait(POLL_S):
                now = self.owner.console.changes()
                quiet += POLL_S
                if now != seen or quiet >= HEARTBEAT_S:
                    message = b"data: change\n\n" if now != seen else b": still here\n\n"
                    self.wfile.write(message)
                    self.wfile.flush()
                    seen, quiet = now, 0.0
        except (BrokenPipeError, ConnectionResetError):
            return  # the page went away

    def log_message(self, format: str, *args: Any) -> None:
        pass  # page views are not worth a log line beside the runs


def handler_class(owner: ConsoleServer) -> type[GuardedRequestHandler]:
    return type("BoundConsoleRequestHandler", (ConsoleRequestHandler,), {"owner": owner})


class ConsoleServer:
    """Serves a ``Console`` from a background thread; ``bind`` takes the port first."""

    def __init__(
        self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, limits: Limits | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.limits = limits
        self.console: Console
        self.stopping = threading.Event()
        self._server: BackgroundHttpServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def bind(self) -> None:
        """Listen now (OSError when the port is taken); requests wait for ``start``."""
        self._server = BackgroundHttpServer(self.host, self.port, handler_class(self), self.limits)
        self.port = self._server.port

    def start(self, console: Console) -> None:
        assert self._server is not None, "bind() first"
        self.console = console
        self._server.serve("localbridge-console")

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.stop()
            self._server = None
