"""The Lambda Invoke API over HTTP on 127.0.0.1 (default port 3001, like ``sam local``).

``POST /2015-03-31/functions/{FunctionName}/invocations`` is the one route;
everything it answers is decided by ``LambdaInvokeHandler``. Standard library
only: a threading server, so a long invocation does not hold up the others.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from localbridge.lambda_api.operation import (
    InvokeRequest,
    InvokeResponse,
    LambdaInvokeHandler,
    error_response,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001
INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations/?")
LIST_PATH = re.compile(r"/2015-03-31/functions/?")
# Lambda's own limit for a synchronous request payload.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


def unknown_operation(method: str, path: str) -> InvokeResponse:
    return error_response(
        404,
        "UnknownOperationException",
        {
            "message": f"{method} {path} is not an operation of this emulator; it answers "
            "POST /2015-03-31/functions/{FunctionName}/invocations"
        },
    )


def too_large(length: int) -> InvokeResponse:
    return error_response(
        413,
        "RequestTooLargeException",
        {
            "message": f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the "
            f"InvokeFunction operation (got {length})"
        },
    )


def content_length(header: str | None) -> int | None:
    """The body's length; None when the header is not a whole number."""
    if header is None or header == "":
        return 0
    return int(header) if header.isdigit() else None


def bad_length(header: str) -> InvokeResponse:
    return error_response(
        400,
        "InvalidRequestContentException",
        {"message": f"Content-Length {header!r} is not a number of bytes"},
    )


def not_ready() -> InvokeResponse:
    return error_response(
        503, "ServiceException", {"message": "localbridge is starting; retry in a moment"}
    )


class LambdaApiRequestHandler(BaseHTTPRequestHandler):
    """Answers with ``owner.handler``; ``request_handler_class`` binds the owner."""

    owner: LambdaApiServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, a
    # keep-alive client waits out its delayed ACK (~40 ms) between them.
    disable_nagle_algorithm = True
    server_version = "localbridge-lambda"

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self.read_body()
        if body is None:
            return
        match = INVOKE_PATH.fullmatch(url.path)
        if match is None:
            self.send(unknown_operation("POST", url.path))
            return
        request = InvokeRequest(
            function_name=unquote(match["name"]),
            invocation_type=self.headers.get("X-Amz-Invocation-Type"),
            log_type=self.headers.get("X-Amz-Log-Type"),
            body=body,
            qualifier=parse_qs(url.query).get("Qualifier", [None])[0],
        )
        handler = self.owner.handler
        self.send(handler.handle(request) if handler else not_ready())

    def read_body(self) -> bytes | None:
        """The request body, or None once a bad or too large length was answered."""
        length = content_length(self.headers.get("Content-Length"))
        if length is None:
            self.close_connection = True
            self.send(bad_length(self.headers.get("Content-Length", "")))
            return None
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            self.send(too_large(length))
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        handler = self.owner.handler
        if LIST_PATH.fullmatch(path):
            self.send(handler.list_functions() if handler else not_ready())
        else:
            self.send(unknown_operation("GET", path))

    def do_PUT(self) -> None:
        self.send(unknown_operation(self.command, urlsplit(self.path).path))

    do_DELETE = do_PUT  # noqa: N815

    def send(self, response: InvokeResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Runs are logged by the runtime; per-request access logs add only noise.
        pass


def request_handler_class(owner: LambdaApiServer) -> type[BaseHTTPRequestHandler]:
    """An http.server request handler class answering with ``owner.handler``."""
    return type("BoundLambdaApiRequestHandler", (LambdaApiRequestHandler,), {"owner": owner})


@dataclass
class LambdaApiServer:
    """The Invoke API served from a background thread until ``stop()``.

    ``bind()`` takes the port without serving, so a caller can fail on a busy
    port before anything else starts; ``handler`` may be set after that.
    """

    handler: LambdaInvokeHandler | None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self) -> LambdaApiServer:
        """Listen on host:port (OSError when taken); requests wait until ``start``."""
        if self._server is None:
            server = ThreadingHTTPServer((self.host, self.port), request_handler_class(self))
            server.daemon_threads = True
            self._server = server
            self.port = server.server_address[1]
        return self

    def start(self) -> LambdaApiServer:
        server = self.bind()._server
        assert server is not None
        self._thread = threading.Thread(target=server.serve_forever, name="lambda-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
