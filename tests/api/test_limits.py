"""What the API keeps bounded and whom it answers: a real ``python -m api``, raw sockets.

Headers past the documented size get 431 and leave no memory behind; a
foreign ``Host`` (DNS rebinding) stores nothing; the WAL is cut back when
posts pause.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
import requests

from api.protocol import DEFAULT_HEADER_LIMIT, host_allowed
from tests.api.server import ApiServer, api_server, exchange, read_answer, request_bytes
from tests.support import wait_for

BIG_HEADER = 32 * 1024 * 1024
CLIENTS = 8
POSTS_PER_CLIENT = 500


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def stored(server: ApiServer) -> int:
    count: int = len(requests.get(f"{server.url}/result", timeout=10).json())
    return count


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    with api_server(tmp_path / "results.db", tmp_path) as started:
        yield started


def post_bytes(host: str, key: str) -> bytes:
    body = json.dumps({"metric": "m", "value": 1}).encode()
    headers = [("Host", host), ("Content-Type", "application/json"), ("Idempotency-Key", key)]
    return request_bytes("POST", "/result", body, headers).replace(b"Host: localhost\r\n", b"", 1)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:5000", "127.0.0.1.nip.io"])
def test_a_foreign_host_gets_421_and_stores_nothing(server: ApiServer, host: str) -> None:
    answer = exchange(server.port, post_bytes(host, "k/1"))
    assert answer is not None
    assert answer.status == 421
    assert "refused" in answer.json()["error"]
    assert stored(server) == 0


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}"])
def test_loopback_hosts_are_answered(server: ApiServer, host: str) -> None:
    answer = exchange(server.port, post_bytes(host.format(port=server.port), "k/1"))
    assert answer is not None
    assert answer.status == 201


def test_allowed_host_names_are_matched_without_their_port() -> None:
    allowed = frozenset({b"api"})
    assert host_allowed(b"api:5000", allowed)
    assert host_allowed(b"API", allowed)
    assert not host_allowed(b"api.evil.example", allowed)
    assert not host_allowed(b"evil.example", frozenset())
    assert host_allowed(b"127.0.0.9", frozenset())
    assert host_allowed(b"[::1]:80", frozenset())


def test_headers_over_the_limit_get_431(server: ApiServer) -> None:
    padding = "x" * (DEFAULT_HEADER_LIMIT + 1)
    answer = exchange(server.port, request_bytes("GET", "/health", headers=[("X-Pad", padding)]))
    assert answer is not None
    assert answer.status == 431
    assert "64 KiB" in answer.json()["error"]
    just_under = "x" * (DEFAULT_HEADER_LIMIT - 1024)
    fits = exchange(server.port, request_bytes("GET", "/health", headers=[("X-Pad", just_under)]))
    assert fits is not None
    assert fits.status == 200


def send_big_header(port: int, answers: list[int | None]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: "
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + b"x" * BIG_HEADER)
        answer = read_answer(sock)
        answers.append(None if answer is None else answer.status)


def test_huge_headers_leave_memory_near_its_baseline(server: ApiServer) -> None:
    baseline = rss_bytes(server.process.pid)
    answers: list[int | None] = []
    threads = [
        threading.Thread(target=send_big_header, args=(server.port, answers))
        for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(answers) <= {431, None}, answers  # a reset may beat the answer to the client
    grown = rss_bytes(server.process.pid) - baseline
    assert grown < 16 * 1024 * 1024, f"RSS grew {grown / 2**20:.1f} MiB"
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200


def post_many(port: int, client: int) -> None:
    """Posts back to back on one kept-alive connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        stream = sock.makefile("rb")
        for number in range(POSTS_PER_CLIENT):
            sock.sendall(post_bytes("localhost", f"load/{client}/{number}"))
            answer = read_answer(stream)
            assert answer is not None
            assert answer.status == 201


def test_the_wal_is_truncated_when_posts_pause(server: ApiServer) -> None:
    threads = [
        threading.Thread(target=post_many, args=(server.port, client)) for client in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stored_count(server.db_path) == CLIENTS * POSTS_PER_CLIENT
    wal = server.db_path.with_name(server.db_path.name + "-wal")
    # The writer checkpoints after a pause of about a second; 30 s is for a busy machine.
    wait_for(lambda: wal.stat().st_size == 0, 30, what="the WAL to be truncated")


def stored_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        count: int = conn.execute("SELECT count(*) FROM result").fetchone()[0]
    conn.close()
    return count
