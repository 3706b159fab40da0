"""A real ``python -m api`` process for tests, and raw HTTP/1.1 over a socket to talk to it.

Raw sockets let tests send what no well-behaved client sends (duplicate headers,
half a request, a body cut short) and read exactly what the server answers.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tests.support import Process, free_port, http_ok, running, start_process


@dataclass
class ApiServer:
    url: str
    port: int
    db_path: Path
    process: Process


@contextmanager
def api_server(db_path: Path, log_dir: Path, **env: str) -> Iterator[ApiServer]:
    """``python -m api`` on a free port over ``db_path``, stopped afterwards."""
    port = free_port()
    variables = {"HOST": "127.0.0.1", "PORT": str(port), "RESULTS_DB": str(db_path), **env}
    process = start_process(["-m", "api"], log_dir / f"api-{port}.log", env=variables)
    url = f"http://127.0.0.1:{port}"
    with running(process, lambda: http_ok(f"{url}/health")):
        yield ApiServer(url, port, db_path, process)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request_bytes(
    method: str, path: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None
) -> bytes:
    """A request with Content-Length unless ``headers`` frame the body themselves."""
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost"]
    given = headers if headers is not None else [("Content-Type", "application/json")]
    lines += [f"{name}: {value}" for name, value in given]
    framed = any(name.lower() in {"content-length", "transfer-encoding"} for name, _ in given)
    if body and not framed:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> Answer | None:
    """Send ``raw`` on a new connection; the answer, or None when closed without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer and close before taking everything.
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        return read_answer(sock)


def read_answer(source: socket.socket | BinaryIO, head: bool = False) -> Answer | None:
    """One HTTP response (Content-Length or chunked framing; no body when answering
    a HEAD request); None on a close before the whole answer arrived.

    From a socket, through a buffered file made for this answer alone; answers
    sent back to back (pipelined) must be read from one file made by the
    caller (``source``), as a file closed after the first answer drops
    whatever of the next ones its buffer already held.
    """
    stream = source.makefile("rb") if isinstance(source, socket.socket) else source
    try:
        status_line = stream.readline()
        if not status_line:
            return None
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := stream.readline()) not in {b"\r\n", b"\n"}:
            if not line:
                return None  # cut off inside the headers (the server died): no answer
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if head:
            body = b""
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int(stream.readline().split(b";")[0], 16):
                body += stream.read(size)
                stream.readline()
            stream.readline()
        else:
            length = int(headers.get("content-length", "0"))
            body = stream.read(length)
            if len(body) < length:
                return None  # cut off inside the body: the client never got the answer
        return Answer(status, headers, body)
    except ConnectionResetError:
        return None
    finally:
        if stream is not source:
            stream.close()
