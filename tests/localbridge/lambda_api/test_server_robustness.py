"""The Invoke API under clients that misbehave or crowd it: raw sockets on 127.0.0.1.

Nothing runs unless the whole request arrived; a crowd of connections waits in
the listen backlog instead of being turned away; a payload the server cannot
parse gets a 400, not a dropped connection.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

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
from tests.raw_http import exchange, read_until_closed
from tests.support import aws_client

CONCURRENT = 100


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


def send_and_hang_up(port: int, data: bytes) -> bytes:
    """Send ``data``, close our sending side, and read until the server closes."""
    return exchange(port, data, hang_up=True)


@pytest.mark.parametrize(
    "cut_off",
    [
        # Headers cut off before their blank line (no body length at all).
        f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: localhost\r\n",
        # Headers cut off mid-line.
        f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Le",
        # Headers complete, body shorter than its Content-Length (what came is valid JSON).
        f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 40\r\n\r\n"
        '{"detail": {}}',
    ],
)
def test_a_half_sent_request_runs_nothing(
    server: LambdaApiServer, counted: CountingInvoker, cut_off: str
) -> None:
    answer = send_and_hang_up(server.port, cut_off.encode())
    assert counted.calls == 0, answer
    # The same request sent whole does run: the count above could have moved.
    whole = (
        f"POST {INVOKE_PATH} HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    assert send_and_hang_up(server.port, whole.encode()).startswith(b"HTTP/1.1 200")
    assert counted.calls == 1


def test_a_crowd_of_connections_waits_in_the_backlog_and_is_answered(
    counted: CountingInvoker,
) -> None:
    backend = backend_of(counted)
    # Bound but not yet serving: every connection must wait in the listen backlog.
    server = LambdaApiServer(LambdaInvokeHandler(backend, IDENTITY), port=0).bind()
    sockets = [socket.socket() for _ in range(CONCURRENT)]
    try:
        for sock in sockets:
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
        deadline = time.monotonic() + 10
        pending = set(sockets)
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], list(pending), [], 0.5)
            pending -= set(writable)
        assert not pending, f"{len(pending)} of {CONCURRENT} connections were not accepted"
        request = (
            b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        for sock in sockets:
            sock.setblocking(True)
            sock.settimeout(60)
            sock.sendall(request)
        server.start()
        answers = [read_until_closed(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
        backend.close()
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)
    assert all(b"x-amzn-RequestId" in answer for answer in answers)


def test_a_payload_nested_too_deep_to_parse_is_invalid_request_content(
    server: LambdaApiServer, counted: CountingInvoker
) -> None:
    payload = '{"a":' * 100_000 + "1" + "}" * 100_000
    with pytest.raises(ClientError) as raised:
        aws_client("lambda", server.url).invoke(FunctionName=ECHO.lambda_name, Payload=payload)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert error["ResponseMetadata"]["RequestId"]
    assert counted.calls == 0


def test_every_answer_carries_a_request_id(server: LambdaApiServer) -> None:
    client = aws_client("lambda", server.url)
    listed = client.list_functions()
    assert listed["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName="nope")
    assert raised.value.response["ResponseMetadata"]["RequestId"]
    answer = send_and_hang_up(
        server.port, b"PUT /nowhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    assert b"x-amzn-RequestId" in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["Type"] == "User"
