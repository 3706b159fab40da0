"""The emulated AWS endpoint answers only loopback Host names: a real endpoint, raw sockets.

A page that points a name of its own at 127.0.0.1 (DNS rebinding) must not
reach moto or the Invoke operation through it.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.support import free_port, http_ok, running, start_process


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def request(method: str, path: str, host: str) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def test_the_endpoint_refuses_foreign_host_names(tmp_path: Path) -> None:
    port = free_port()
    args = ["-m", "infra.emulated_aws", "--port", str(port), "--state-dir", str(tmp_path)]
    process = start_process(args, tmp_path / "endpoint.log")
    with running(process, lambda: http_ok(f"http://127.0.0.1:{port}/_emulated_aws/health")):
        invoke = "/2015-03-31/functions/anything/invocations"
        refused = [
            exchange(port, request("GET", "/_emulated_aws/health", "evil.example")),
            exchange(port, request("POST", invoke, f"evil.example:{port}")),
            exchange(port, request("POST", "/", "127.0.0.1.nip.io")),
        ]
        answered = exchange(port, request("GET", "/_emulated_aws/health", f"localhost:{port}"))
    for answer in refused:
        assert answer.startswith(b"HTTP/1.1 421"), answer[:300]
        message = json.loads(answer.partition(b"\r\n\r\n")[2])["message"]
        assert "answers only localhost" in message
    assert answered.startswith(b"HTTP/1.1 200"), answered[:300]
