"""The Lambda API over HTTP on 127.0.0.1 (default port 3001, like ``sam local``).

``routes`` maps each path to an operation; everything an operation answers is
decided by ``LambdaInvokeHandler``. Standard library only: a threading
server, so a long invocation does not hold up the others.

``http.server`` takes the end of a connection for the end of the headers and
hands a short body on as if whole; this server notices both and runs nothing
for a request that did not arrive whole. Every request's body is read
whatever its method, so an operation this server lacks is answered as
Lambda's error and the connection goes on. Requests from browsers (an
``Origin``, or ``Sec-Fetch-Site`` naming another site) are refused, and the
Host check and deadlines of ``localbridge.http_server`` apply.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from email.message import Message
from typing import Any, BinaryIO
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from localbridge.hosts import HostPolicy
from localbridge.http_server import BackgroundHttpServer, GuardedRequestHandler, Limits
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
from localbridge.runtime.faults import RuntimeFaultError

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


def bad_length(message: str) -> InvokeResponse:
    return error_response(400, "InvalidRequestContentException", {"message": message})


def body_length(headers: Message) -> tuple[InvokeResponse | None, int]:
    """(a refusal or None, the body's length): one whole-number Content-Length, no chunks.

    Two lengths that differ, or a Transfer-Encoding beside one, would let this
    server and a proxy in front of it split the stream into different requests.
    """
    if headers.get("Transfer-Encoding") is not None:
        return bad_length("Transfer-Encoding is not supported; send a Content-Length"), 0
    values = set(headers.get_all("Content-Length") or [])
    if len(values) > 1:
        return bad_length(f"conflicting Content-Length headers: {sorted(values)}"), 0
    header = next(iter(values), None)
    length = content_length(header)
    if length is None:
        return bad_length(f"Content-Length {header!r} is not a number of bytes"), 0
    return None, length


def browser_refusal(headers: Message) -> InvokeResponse | None:
    """403 for a request a browser sent: SDKs, the aws CLI and chalice send no ``Origin``.

    A page on any site can make a browser POST here (``no-cors`` needs no
    permission): it would run functions with an event of its choosing.
    """
    origin = headers.get("Origin")
    site = headers.get("Sec-Fetch-Site")
    if origin is None and site not in ("cross-site", "same-site"):
        return None
    sender = f"Origin {origin}" if origin is not None else f"Sec-Fetch-Site {site}"
    return error_response(
        403,
        "AccessDeniedException",
        {
            "message": f"requests from web pages are refused ({sender}); call the Lambda API"
            " with an AWS SDK, the aws CLI or chalice"
        },
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


class LambdaApiRequestHandler(GuardedRequestHandler):
    """Answers with ``owner.handler``; ``request_handler_class`` binds the owner.

    Every method goes through ``dispatch``, which reads the whole body first,
    so a kept-alive connection stays in step whatever the operation.
    """

    owner: LambdaApiServer
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

    def refuse(self, status: int, message: str) -> None:
        self.close_connection = True
        error_type = "RequestTimeoutException" if status == 408 else "AccessDeniedException"
        self.send(error_response(status, error_type, {"message": message}))

    def dispatch(self) -> None:
        if not self.headers_complete():
            return
        body = self.read_body()
        if body is None:
            return
        refusal = browser_refusal(self.headers)
        if refusal is not None:
            self.send(refusal)
            return
        url = urlsplit(self.path)
        handler = self.owner.handler
        if self.command == "POST" and INVOKE_PATH.fullmatch(url.path):
            invoke = invoke_request(url, self.headers, body)
            self.answer(lambda: handler.handle(invoke) if handler else not_ready())
        elif self.command in ("GET", "HEAD"):
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            self.answer(lambda: handler.get(url.path, query) if handler else not_ready())
        else:
            self.send(unknown_operation(self.command, url.path))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = dispatch  # noqa: N815

    def do_OPTIONS(self) -> None:  # noqa: N802
        """Lambda has no CORS: a preflight is refused, with no Access-Control-* header."""
        if self.headers_complete() and self.read_body() is not None:
            self.send(
                error_response(
                    403,
                    "AccessDeniedException",
                    {"message": "OPTIONS is not an operation of the Lambda API (it has no CORS)"},
                )
            )

    def answer(self, respond: Any) -> None:
        """Send what ``respond()`` gives; an error in it is a 500, not a dropped connection."""
        try:
            response = respond()
        except RuntimeFaultError as error:  # the process stops on it and says why, once
            response = error_response(503, "ServiceException", {"message": str(error)})
        except Exception as error:
            log.exception("the Lambda API failed on %s %s", self.command, self.path)
            response = internal_error(error)
        self.send(response)

    def read_body(self) -> bytes | None:
        """The request body; None once a bad length was answered or the body fell short."""
        refusal, length = body_length(self.headers)
        if refusal is None and length > MAX_PAYLOAD_BYTES:
            refusal = too_large(length)
        if refusal is not None:
            self.close_connection = True
            self.send(refusal)
            return None
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True  # cut off: the client hung up mid-body
            return None
        return body

    def send(self, response: InvokeResponse) -> None:
        self.send_response(response.status)
        headers = response.headers
        if not any(name.lower() == "x-amzn-requestid" for name in headers):
            headers = {**headers, "x-amzn-RequestId": str(uuid.uuid4())}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        # Runs are logged by the runtime; per-request access logs add only noise.
        pass


def invoke_request(url: SplitResult, headers: Message, body: bytes) -> InvokeRequest:
    match = INVOKE_PATH.fullmatch(url.path)
    assert match is not None
    return InvokeRequest(
        function_name=unquote(match["name"]),
        invocation_type=headers.get("X-Amz-Invocation-Type"),
        log_type=headers.get("X-Amz-Log-Type"),
        body=body,
        qualifier=parse_qs(url.query).get("Qualifier", [None])[0],
        client_context=headers.get("X-Amz-Client-Context"),
    )


def request_handler_class(owner: LambdaApiServer) -> type[GuardedRequestHandler]:
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
    limits: Limits | None = None
    hosts: HostPolicy | None = None
    """The Host names answered; by default those of a server bound to ``host``."""
    _server: BackgroundHttpServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self) -> LambdaApiServer:
        """Listen on host:port (OSError when taken); requests wait until ``start``."""
        if self._server is None:
            self._server = BackgroundHttpServer(
                self.host, self.port, request_handler_class(self), self.limits, self.hosts
            )
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
