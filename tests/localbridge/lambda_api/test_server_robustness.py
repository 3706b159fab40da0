"""The Invoke API under clients that misbehave or crowd it: raw sockets on 127.0.0.1.

Nothing runs unless the whole request arrived; a crowd of connections waits in
the listen backlog instead of being turned away; a payload the server cannot
parse gets a 400, not a dropped connection.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from localbridge.abc import Invoker
from localbridge.events import AwsIdentity
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
CONCURRENT = 100


class CountingInvoker:
    """The real thread invoker, counting the invocations that reached it."""

    def __init__(self, inner: Invoker) -> None:
        self.inner = inner
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
def counted(tmp_path: Path) -> Iterator[CountingInvoker]:
    invoker = CountingInvoker(ThreadInvoker(write_project(tmp_path / "project"), IDENTITY))
    try:
        yield invoker
    finally:
        invoker.close()


@pytest.fixture
def server(counted: CountingInvoker) -> Iterator[LambdaApiServer]:
    backend = InvokerBackend(lambda: [ECHO], counted, IDENTITY, clock=lambda: NOW)
    started = LambdaApiServer(LambdaInvokeHandler(backend, IDENTITY), port=0).start()
    try:
        yield started
    finally:
        started.stop()
        backend.close()


def send_and_hang_up(port: int, data: bytes) -> bytes:
    """Send ``data``, close our sending side, and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


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
    backend = InvokerBackend(lambda: [ECHO], counted, IDENTITY, clock=lambda: NOW)
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
        answers = [read_all(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
        backend.close()
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers)
    assert all(b"x-amzn-RequestId" in answer for answer in answers)


def read_all(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


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
