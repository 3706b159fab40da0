"""What the Invoke API refuses and how it keeps a connection in step: raw sockets and boto3.

Foreign ``Host`` names (DNS rebinding) and browsers' requests run nothing;
half-sent requests are cut off by deadlines; every body is read whatever the
method, so an unsupported operation leaves a kept-alive connection usable.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from localbridge.hosts import HostPolicy
from localbridge.http_server import Limits
from localbridge.invokers.thread import ThreadInvoker
from localbridge.lambda_api.operation import LambdaInvokeHandler
from localbridge.lambda_api.server import LambdaApiServer
from tests.localbridge.chalice_project import write_project
from tests.localbridge.lambda_api.servers import (
    ECHO,
    IDENTITY,
    INVOKE_PATH,
    CountingInvoker,
    backend_of,
    serve,
)
from tests.raw_http import exchange, read_until_closed, status_of
from tests.support import aws_client

SHORT = Limits(header_timeout=0.5, body_timeout=0.5, write_timeout=5.0)


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[CountingInvoker]:
    invoker = CountingInvoker(ThreadInvoker(write_project(tmp_path / "project"), IDENTITY))
    try:
        yield invoker
    finally:
        invoker.close()


@pytest.fixture
def server(counted: CountingInvoker) -> Iterator[LambdaApiServer]:
    started, backend = serve(counted)
    try:
        yield started
    finally:
        started.stop()
        backend.close()


@pytest.fixture
def strict(counted: CountingInvoker) -> Iterator[LambdaApiServer]:
    """A server with short deadlines."""
    started, backend = serve(counted, SHORT)
    try:
        yield started
    finally:
        started.stop()
        backend.close()


def invoke_bytes(host: str, *headers: str, body: bytes = b"", close: bool = True) -> bytes:
    lines = [f"POST {INVOKE_PATH} HTTP/1.1", f"Host: {host}", *headers]
    if not any(line.lower().startswith("content-length") for line in headers):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


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
    server: LambdaApiServer, counted: CountingInvoker, host: str
) -> None:
    answer = exchange(server.port, invoke_bytes(host))
    assert status_of(answer) == 421, answer
    assert "refused" in error_of(answer)[1]
    assert counted.calls == 0


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:{port}", "127.0.0.1:{port}", "127.1.2.3", "[::1]:{port}"]
)
def test_loopback_names_are_answered(
    server: LambdaApiServer, counted: CountingInvoker, host: str
) -> None:
    answer = exchange(server.port, invoke_bytes(host.format(port=server.port)))
    assert status_of(answer) == 200, answer
    assert counted.calls == 1


def test_names_of_allowed_hosts_are_answered_when_bound_beyond_loopback(
    counted: CountingInvoker,
) -> None:
    # The policy of a server bound to 0.0.0.0, on a server bound to 127.0.0.1.
    env = {"ALLOWED_HOSTS": "scheduler, api:5000"}
    policy = HostPolicy.for_address("0.0.0.0", env)
    backend = backend_of(counted)
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
    server: LambdaApiServer, counted: CountingInvoker, header: str
) -> None:
    answer = exchange(server.port, invoke_bytes("localhost", header, body=b'{"detail": {}}'))
    assert status_of(answer) == 403, answer
    kind, message = error_of(answer)
    assert kind == "AccessDeniedException"
    assert "web pages" in message
    assert counted.calls == 0


def test_conflicting_content_lengths_are_refused(
    server: LambdaApiServer, counted: CountingInvoker
) -> None:
    request = invoke_bytes("localhost", "Content-Length: 2", "Content-Length: 14", body=b"{}")
    answer = exchange(server.port, request)
    assert status_of(answer) == 400, answer
    assert "conflicting Content-Length" in error_of(answer)[1]
    assert counted.calls == 0


def test_a_chunked_body_is_refused_not_read_as_the_next_request(
    server: LambdaApiServer, counted: CountingInvoker
) -> None:
    request = invoke_bytes("localhost", "Transfer-Encoding: chunked", "Content-Length: 0")
    answer = exchange(server.port, request + b"2\r\n{}\r\n0\r\n\r\n")
    assert status_of(answer) == 400, answer
    assert answer.count(b"HTTP/1.1") == 1
    assert counted.calls == 0


@pytest.mark.parametrize("payload", ["NaN", '{"value": NaN}', '{"value": -Infinity}'])
def test_a_payload_python_reads_but_json_does_not_is_refused(
    server: LambdaApiServer, counted: CountingInvoker, payload: str
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
    server: LambdaApiServer, counted: CountingInvoker
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
    server: LambdaApiServer, counted: CountingInvoker
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
    strict: LambdaApiServer, counted: CountingInvoker
) -> None:
    answer = exchange(strict.port, f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: loc".encode())
    assert status_of(answer) == 408, answer
    assert error_of(answer)[0] == "RequestTimeoutException"
    assert counted.calls == 0


def test_a_trickled_request_is_cut_off_at_its_deadline(
    strict: LambdaApiServer, counted: CountingInvoker
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


def test_a_body_that_stops_arriving_gets_408(
    strict: LambdaApiServer, counted: CountingInvoker
) -> None:
    request = invoke_bytes("localhost", "Content-Length: 10", body=b"{}")
    answer = exchange(strict.port, request)
    assert status_of(answer) == 408, answer
    assert "body" in error_of(answer)[1]
    assert counted.calls == 0


def test_an_idle_kept_alive_connection_is_closed_quietly(strict: LambdaApiServer) -> None:
    answer = exchange(strict.port, invoke_bytes("localhost", close=False))
    assert status_of(answer) == 200
    assert answer.count(b"HTTP/1.1") == 1  # no 408 for a request never begun


def test_connections_beyond_the_bound_are_turned_away(counted: CountingInvoker) -> None:
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
