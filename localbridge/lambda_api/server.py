"""The Lambda API over HTTP on 127.0.0.1 (default port 3001, like ``sam local``).

``routes`` maps each path to an operation; everything an operation answers is
decided by ``LambdaInvokeHandler``. Standard library only: a threading
server, so a long invocation does not hold up the others.

``http.server`` takes the end of a connection for the end of the headers and
hands a short body on as if whole; this server notices both and runs nothing
for a request that did not arrive whole.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from localbridge.http_server import BackgroundHttpServer
from localbridge.lambda_api import DEFAULT_HOST as DEFAULT_HOST  # public here too
from localbridge.lambda_api import DEFAULT_PORT as DEFAULT_PORT
from localbridge.lambda_api import operation
from localbridge.lambda_api.operation import (
    InvokeRequest,
    InvokeResponse,
    LambdaInvokeHandler,
    error_response,
    unknown_operation,
)

log = logging.getLogger("localbridge.lambda_api")

INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations/?")
# Lambda's own limit for a synchronous request payload.
MAX_PAYLOAD_BYTES = operation.MAX_SYNC_PAYLOAD_BYTES


def too_large(length: int) -> InvokeResponse:
    return operation.too_large(length, MAX_PAYLOAD_BYTES, "InvokeFunction")


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


def internal_error(error: BaseException) -> InvokeResponse:
    return error_response(
        500,
        "ServiceException",
        {"message": f"localbridge failed to answer: {type(error).__name__}: {error}"},
    )


def not_ready() -> InvokeResponse:
    return error_response(
        503, "ServiceException", {"message": "localbridge is starting; retry in a moment"}
    )


class _TrackedReader:
    """The request stream, remembering whether the last line read was the headers' end."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.last_line = b""

    def readline(self, limit: int = -1) -> bytes:
        self.last_line = self._stream.readline(limit)
        return self.last_line

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def close(self) -> None:
        self._stream.close()


class LambdaApiRequestHandler(BaseHTTPRequestHandler):
    """Answers with ``owner.handler``; ``request_handler_class`` binds the owner."""

    owner: LambdaApiServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, a
    # keep-alive client waits out its delayed ACK (~40 ms) between them.
    disable_nagle_algorithm = True
    server_version = "localbridge-lambda"

    def setup(self) -> None:
        super().setup()
        self.tracked = _TrackedReader(self.rfile)  # type: ignore[arg-type]
        self.rfile = self.tracked  # type: ignore[assignment]

    def headers_complete(self) -> bool:
        """Whether the headers ended with their blank line, not with the connection."""
        if self.tracked.last_line in (b"\r\n", b"\n"):
            return True
        self.close_connection = True  # the client is gone: nothing to answer
        return False

    def do_POST(self) -> None:
        if not self.headers_complete():
            return
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
            client_context=self.headers.get("X-Amz-Client-Context"),
        )
        handler = self.owner.handler
        self.answer(lambda: handler.handle(request) if handler else not_ready())

    def answer(self, respond: Any) -> None:
        """Send what ``respond()`` gives; an error in it is a 500, not a dropped connection."""
        try:
            response = respond()
        except Exception as error:
            log.exception("the Lambda API failed on %s %s", self.command, self.path)
            response = internal_error(error)
        self.send(response)

    def read_body(self) -> bytes | None:
        """The request body; None once a bad length was answered or the body fell short."""
        length = content_length(self.headers.get("Content-Length"))
        if length is None:
            self.close_connection = True
            self.send(bad_length(self.headers.get("Content-Length", "")))
            return None
        if length > MAX_PAYLOAD_BYTES:
            self.close_connection = True
            self.send(too_large(length))
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True  # cut off: the client hung up mid-body
            return None
        return body

    def do_GET(self) -> None:
        if not self.headers_complete():
            return
        url = urlsplit(self.path)
        handler = self.owner.handler
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if handler is None:
            self.send(not_ready())
            return
        self.answer(lambda: handler.get(url.path, query))

    def do_PUT(self) -> None:
        if not self.headers_complete():
            return
        self.send(unknown_operation(self.command, urlsplit(self.path).path))

    do_DELETE = do_PUT  # noqa: N815

    def send(self, response: InvokeResponse) -> None:
        self.send_response(response.status)
        headers = response.headers
        if not any(name.lower() == "x-amzn-requestid" for name in headers):
            headers = {**headers, "x-amzn-RequestId": str(uuid.uuid4())}
        for name, value in headers.items():
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
    _server: BackgroundHttpServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self) -> LambdaApiServer:
        """Listen on host:port (OSError when taken); requests wait until ``start``."""
        if self._server is None:
            self._server = BackgroundHttpServer(self.host, self.port, request_handler_class(self))
            self.port = self._server.port
        return self

    def start(self) -> LambdaApiServer:
        server = self.bind()._server
        assert server is not None
        server.serve("lambda-api")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
