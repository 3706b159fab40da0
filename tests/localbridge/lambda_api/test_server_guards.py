"""What the Invoke API refuses and how it keeps a connection in step: raw sockets and boto3.

Foreign ``Host`` names (DNS rebinding) and browsers' requests run nothing;
half-sent requests are cut off by deadlines; every body is read whatever the
method, so an unsupported operation leaves a kept-alive connection usable.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from localbridge.events import AwsIdentity
from localbridge.hosts import HostPolicy
from localbridge.http_server import Limits
from localbridge.invokers.thread import ThreadInvoker
from localbridge.lambda_api.backends import InvokerBackend
from localbridge.lambda_api.operation import LambdaInvokeHandler
from localbridge.lambda_api.server import LambdaApiServer
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions
from tests.localbridge.chalice_project import spec, write_project
from tests.support import aws_client

IDENTITY = AwsIdentity(account="123456789012", region="us-east-1")
NOW = datetime(2022, 12, 22, 0, 5, tzinfo=UTC)
ECHO = spec("echo")
INVOKE_PATH = f"/2015-03-31/functions/{ECHO.lambda_name}/invocations"
SHORT = Limits(header_timeout=0.5, body_timeout=0.5, write_timeout=5.0)


class Counting:
    """The thread invoker, counting what reached it."""

    def __init__(self, project: Path) -> None:
        self.inner = ThreadInvoker(project, IDENTITY)
        self.calls = 0
        self._lock = threading.Lock()

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        with self._lock:
            self.calls += 1
        return self.inner.invoke(function, event, request_id, options)

    def reload(self) -> None:
        self.inner.reload()

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[Counting]:
    invoker = Counting(write_project(tmp_path / "project"))
    try:
        yield invoker
    finally:
        invoker.close()


def serve(counted: Counting, limits: Limits | None = None) -> tuple[LambdaApiServer, Any]:
    backend = InvokerBackend(lambda: [ECHO], counted, IDENTITY, clock=lambda: NOW)
    server = LambdaApiServer(LambdaInvokeHandler(backend, IDENTITY), port=0, limits=limits)
    return server.start(), backend


@pytest.fixture
def server(counted: Counting) -> Iterator[LambdaApiServer]:
    started, backend = serve(counted)
    try:
        yield started
    finally:
        started.stop()
        backend.close()


@pytest.fixture
def strict(counted: Counting) -> Iterator[LambdaApiServer]:
    """A server with short deadlines."""
    started, backend = serve(counted, SHORT)
    try:
        yield started
    finally:
        started.stop()
        backend.close()


def exchange(port: int, data: bytes, timeout: float = 30) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def invoke_bytes(host: str, *headers: str, body: bytes = b"", close: bool = True) -> bytes:
    lines = [f"POST {INVOKE_PATH} HTTP/1.1", f"Host: {host}", *headers]
    if not any(line.lower().startswith("content-length") for line in headers):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def status_of(answer: bytes) -> int:
    return int(answer[9:12])


def error_of(answer: bytes) -> tuple[str, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    kind = next(
        line.split(b":", 1)[1].strip().decode()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"x-amzn-errortype:")
    )
    return kind, json.loads(body)["message"]


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:3001", "127.0.0.1.evil.example", "localhost.evil", ""]
)
def test_a_foreign_host_is_refused_and_runs_nothing(
    server: LambdaApiServer, counted: Counting, host: str
) -> None:
    answer = exchange(server.port, invoke_bytes(host))
    assert status_of(answer) == 421, answer
    assert "refused" in error_of(answer)[1]
    assert counted.calls == 0


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:{port}", "127.0.0.1:{port}", "127.1.2.3", "[::1]:{port}"]
)
def test_loopback_names_are_answered(server: LambdaApiServer, counted: Counting, host: str) -> None:
    answer = exchange(server.port, invoke_bytes(host.format(port=server.port)))
    assert status_of(answer) == 200, answer
    assert counted.calls == 1


def test_names_of_allowed_hosts_are_answered_when_bound_beyond_loopback(
    counted: Counting,
) -> None:
    # The policy of a server bound to 0.0.0.0, on a server bound to 127.0.0.1.
    env = {"ALLOWED_HOSTS": "scheduler, api:5000"}
    policy = HostPolicy.for_address("0.0.0.0", env)
    backend = InvokerBackend(lambda: [ECHO], counted, IDENTITY, clock=lambda: NOW)
    server = LambdaApiServer(LambdaInvokeHandler(backend, IDENTITY), port=0, hosts=policy)
    server.start()
    try:
        allowed = exchange(server.port, invoke_bytes(f"scheduler:{server.port}"))
        foreign = exchange(server.port, invoke_bytes("evil.example"))
    finally:
        server.stop()
        backend.close()
    assert status_of(allowed) == 200, allowed
    assert status_of(foreign) == 421, foreign
    assert "ALLOWED_HOSTS" in error_of(foreign)[1]
    assert counted.calls == 1


def test_allowed_hosts_do_not_widen_a_loopback_server() -> None:
    policy = HostPolicy.for_address("127.0.0.1", {"ALLOWED_HOSTS": "scheduler"})
    assert not policy.allows("scheduler")
    assert policy.allows("localhost:3001")
    assert HostPolicy.for_address("10.0.0.5", {}).allows("10.0.0.5:3001")
    assert not HostPolicy.for_address("0.0.0.0", {}).allows("0.0.0.0")


@pytest.mark.parametrize(
    "header",
    ["Origin: https://evil.example", "Origin: null", "Sec-Fetch-Site: cross-site",
     "Sec-Fetch-Site: same-site"],
)  # fmt: skip
def test_a_browser_request_is_refused_and_runs_nothing(
    server: LambdaApiServer, counted: Counting, header: str
) -> None:
    answer = exchange(server.port, invoke_bytes("localhost", header, body=b'{"detail": {}}'))
    assert status_of(answer) == 403, answer
    kind, message = error_of(answer)
    assert kind == "AccessDeniedException"
    assert "web pages" in message
    assert counted.calls == 0


def test_conflicting_content_lengths_are_refused(
    server: LambdaApiServer, counted: Counting
) -> None:
    request = invoke_bytes("localhost", "Content-Length: 2", "Content-Length: 14", body=b"{}")
    answer = exchange(server.port, request)
    assert status_of(answer) == 400, answer
    assert "conflicting Content-Length" in error_of(answer)[1]
    assert counted.calls == 0


def test_a_chunked_body_is_refused_not_read_as_the_next_request(
    server: LambdaApiServer, counted: Counting
) -> None:
    request = invoke_bytes("localhost", "Transfer-Encoding: chunked", "Content-Length: 0")
    answer = exchange(server.port, request + b"2\r\n{}\r\n0\r\n\r\n")
    assert status_of(answer) == 400, answer
    assert answer.count(b"HTTP/1.1") == 1
    assert counted.calls == 0


@pytest.mark.parametrize("payload", ["NaN", '{"value": NaN}', '{"value": -Infinity}'])
def test_a_payload_python_reads_but_json_does_not_is_refused(
    server: LambdaApiServer, counted: Counting, payload: str
) -> None:
    with pytest.raises(ClientError) as raised:
        aws_client("lambda", server.url).invoke(FunctionName=ECHO.lambda_name, Payload=payload)
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert "not a JSON value" in raised.value.response["Error"]["Message"]
    assert counted.calls == 0


def test_options_is_refused_as_lambda_does_without_cors(server: LambdaApiServer) -> None:
    request = (
        f"OPTIONS {INVOKE_PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        "Access-Control-Request-Method: POST\r\n\r\n"
    )
    answer = exchange(server.port, request.encode())
    assert status_of(answer) == 403, answer
    assert error_of(answer)[0] == "AccessDeniedException"
    assert b"access-control-allow" not in answer.lower()
    assert b"<html" not in answer.lower()


def test_an_unsupported_operation_with_a_body_keeps_the_connection_in_step(
    server: LambdaApiServer, counted: Counting
) -> None:
    body = b'{"ReservedConcurrentExecutions": 0}'
    put = (
        f"PUT /2017-10-31/functions/{ECHO.lambda_name}/concurrency HTTP/1.1\r\n"
        f"Host: localhost\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    answer = exchange(server.port, put + invoke_bytes("localhost"))
    first, _, rest = answer.partition(b"HTTP/1.1 200")
    assert status_of(first) in (200, 404), answer  # an error as Lambda's JSON, or done
    assert b"Bad request syntax" not in answer
    assert rest, f"the invoke after it was not answered: {answer!r}"
    assert counted.calls == 1


def test_one_boto3_client_goes_on_after_an_operation_the_server_lacks(
    server: LambdaApiServer, counted: Counting
) -> None:
    client = aws_client("lambda", server.url)
    codes: list[str] = []
    calls: list[tuple[str, dict[str, Any]]] = [
        ("put_function_concurrency", {"ReservedConcurrentExecutions": 5}),
        ("delete_function_concurrency", {}),
    ]
    for operation, parameters in calls:
        try:
            getattr(client, operation)(FunctionName=ECHO.lambda_name, **parameters)
        except ClientError as error:  # not an operation here: Lambda's error shape
            codes.append(error.response["Error"]["Code"])
    assert all(codes), codes
    answer = client.invoke(FunctionName=ECHO.lambda_name, Payload=b"{}")
    assert answer["StatusCode"] == 200
    assert counted.calls == 1


def test_headers_that_stop_arriving_get_408_within_the_deadline(
    strict: LambdaApiServer, counted: Counting
) -> None:
    answer = exchange(strict.port, f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: loc".encode())
    assert status_of(answer) == 408, answer
    assert error_of(answer)[0] == "RequestTimeoutException"
    assert counted.calls == 0


def test_a_trickled_request_is_cut_off_at_its_deadline(
    strict: LambdaApiServer, counted: Counting
) -> None:
    """One byte at a time, each well within the deadline, never gets a whole request in."""
    request = invoke_bytes("localhost", body=b"{}")
    with socket.create_connection(("127.0.0.1", strict.port), timeout=30) as sock:
        closed = threading.Event()
        for byte in request[:-1]:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # the server closed: what it answered is read below
            if closed.wait(0.05):  # paced, not waited on: the deadline is the server's
                break
        answer = read_until_closed(sock)
    assert status_of(answer) == 408, answer
    assert counted.calls == 0


def test_a_body_that_stops_arriving_gets_408(strict: LambdaApiServer, counted: Counting) -> None:
    request = invoke_bytes("localhost", "Content-Length: 10", body=b"{}")
    answer = exchange(strict.port, request)
    assert status_of(answer) == 408, answer
    assert "body" in error_of(answer)[1]
    assert counted.calls == 0


def test_an_idle_kept_alive_connection_is_closed_quietly(strict: LambdaApiServer) -> None:
    answer = exchange(strict.port, invoke_bytes("localhost", close=False))
    assert status_of(answer) == 200
    assert answer.count(b"HTTP/1.1") == 1  # no 408 for a request never begun


def test_connections_beyond_the_bound_are_turned_away(counted: Counting) -> None:
    patient = Limits(header_timeout=60, body_timeout=60, max_connections=3)
    server, backend = serve(counted, patient)
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(3)]
    try:
        for sock in held:  # each holds a thread: a request begun, never finished
            sock.sendall(b"GET / HTTP/1.1\r\n")
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as extra:
            answer = read_until_closed(extra)  # answered before it sends anything
    finally:
        for sock in held:
            sock.close()
        server.stop()
        backend.close()
    assert status_of(answer) == 503, answer
