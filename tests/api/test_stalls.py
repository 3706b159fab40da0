"""No client and no lock holder stalls the API: slow writers, big reads, half-sent requests."""

from __future__ import annotations

import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.api.server import api_server, exchange, read_answer, request_bytes
from tests.support import wait_for

PROMPT = 1.0  # seconds: "promptly", far below the store's 5 s busy timeout
JSON = b"Content-Type: application/json\r\n"


def vm_peak_kib(pid: int) -> int:
    """The process's peak resident memory so far (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def test_reads_answer_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    with api_server(tmp_path / "results.db", tmp_path) as server:
        first = requests.post(f"{server.url}/result", json={"n": 1}, timeout=30).json()
        holder = sqlite3.connect(server.db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
        try:
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(
                    requests.post, f"{server.url}/result", json={"n": 2}, timeout=30
                )
                # The post waits on the lock; reads must not.
                begun = time.monotonic()
                health = requests.get(f"{server.url}/health", timeout=PROMPT)
                one = requests.get(f"{server.url}/result/{first['id']}", timeout=PROMPT)
                listed = requests.get(f"{server.url}/result", timeout=PROMPT)
                took = time.monotonic() - begun
                holder.execute("ROLLBACK")
                posted = waiting.result(timeout=30)
        finally:
            holder.close()

    assert (health.status_code, one.status_code, listed.status_code) == (200, 200, 200)
    assert took < PROMPT
    assert one.json() == first
    assert posted.status_code == 201


@pytest.mark.slow
def test_a_big_read_holds_a_bounded_amount_of_memory(tmp_path: Path) -> None:
    big = "x" * (1024 * 1024 - 100)
    with api_server(tmp_path / "results.db", tmp_path) as server:
        for n in range(24):
            answer = requests.post(f"{server.url}/result", json={"n": n, "big": big}, timeout=30)
            assert answer.status_code == 201
        before = vm_peak_kib(server.process.pid)

        def read_all() -> int:
            response = requests.get(f"{server.url}/result?limit=10000", timeout=60)
            return len(response.json())

        with ThreadPoolExecutor(4) as pool:
            counts = list(pool.map(lambda _: read_all(), range(4)))
            health = requests.get(f"{server.url}/health", timeout=10)
        grown_mib = (vm_peak_kib(server.process.pid) - before) / 1024

    assert counts == [24] * 4
    assert health.status_code == 200
    # Four pages of 24 MiB each, held whole, took 300 MiB; streamed, about 50.
    assert grown_mib < 100, f"peak memory grew {grown_mib:.0f} MiB"


def test_disconnects_mid_body_cost_no_error_log(tmp_path: Path) -> None:
    with api_server(tmp_path / "results.db", tmp_path) as server:
        log_before = len(server.process.log())
        head = b"POST /result HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(head + b'Content-Length: 1000\r\n\r\n{"metric": "cut')
        # Still serving, and nothing was stored.
        health = requests.get(f"{server.url}/health", timeout=10).json()
        logged = server.process.log()[log_before:]

    assert health["results"] == 0
    assert "Traceback" not in logged
    assert "ERROR" not in logged
    assert len(logged) < 1000


@pytest.mark.parametrize(
    ("sent", "what"),
    [
        (b"", "headers"),
        (b"POST /result HTTP/1.1\r\nHost: localhost\r\nContent-Le", "headers"),
        (
            b"POST /result HTTP/1.1\r\nHost: localhost\r\n" + JSON + b"Content-Length: 50\r\n\r\n{",
            "body",
        ),
        (
            b"POST /result HTTP/1.1\r\nHost: localhost\r\n"
            + JSON
            + b"Transfer-Encoding: chunked\r\n\r\n5\r\n",
            "body",
        ),
    ],
    ids=["nothing", "half-headers", "half-body", "half-chunked"],
)
def test_a_request_that_stops_arriving_is_closed(tmp_path: Path, sent: bytes, what: str) -> None:
    timeouts = {"RESULTS_API_HEADER_TIMEOUT": "0.5", "RESULTS_API_BODY_TIMEOUT": "0.5"}
    with api_server(tmp_path / "results.db", tmp_path, **timeouts) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(sent)
            answer = read_answer(sock)  # returns once the server closes
            closed = sock.recv(1) == b""
        healthy = requests.get(f"{server.url}/health", timeout=10).status_code

    assert answer is not None
    assert answer.status == 408
    assert what in answer.json()["error"]
    assert closed
    assert healthy == 200


def test_a_short_header_deadline_after_a_long_body_deadline_still_holds(
    tmp_path: Path,
) -> None:
    # The first request's body deadline (60 s) is the later one; the second
    # request's header deadline (0.5 s) must not wait for it.
    timeouts = {"RESULTS_API_HEADER_TIMEOUT": "0.5", "RESULTS_API_BODY_TIMEOUT": "60"}
    with api_server(tmp_path / "results.db", tmp_path, **timeouts) as server:
        raw = request_bytes("POST", "/result", b'{"metric": "first"}')
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            stream = sock.makefile("rb")
            sock.sendall(raw[:-4])  # the headers, and the body all but its end
            # A connection opened later that sends nothing is closed at its header
            # deadline, after this one's: by then this one's timer has fired
            # once and been set again for the 60 s body deadline.
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as later:
                closed_later = read_answer(later)
            sock.sendall(raw[-4:])
            first = read_answer(stream)
            sock.sendall(b"POST /result HTTP/1.1\r\nHost: localhost\r\n")  # never finished
            begun = time.monotonic()
            second = read_answer(stream)  # returns once the server closes
            took = time.monotonic() - begun

    assert [a.status if a else None for a in (closed_later, first, second)] == [408, 201, 408]
    assert second is not None
    assert "headers" in second.json()["error"]
    assert took < 30, f"the header deadline held {took:.1f} s, not 0.5 s"


def test_a_request_sent_in_time_is_served(tmp_path: Path) -> None:
    timeouts = {"RESULTS_API_HEADER_TIMEOUT": "5", "RESULTS_API_BODY_TIMEOUT": "5"}
    with api_server(tmp_path / "results.db", tmp_path, **timeouts) as server:
        raw = request_bytes("POST", "/result", b'{"metric": "slow but fine"}')
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            for piece in (raw[:20], raw[20:60], raw[60:]):
                sock.sendall(piece)
            answer = read_answer(sock)
        again = exchange(server.port, request_bytes("GET", "/health"))

    assert [a.status if a else None for a in (answer, again)] == [201, 200]


def test_many_connections_waiting_on_a_lock_do_not_block_health(tmp_path: Path) -> None:
    with api_server(tmp_path / "results.db", tmp_path) as server:
        holder = sqlite3.connect(server.db_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        sockets = []
        try:
            for n in range(20):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                sock.sendall(request_bytes("POST", "/result", b'{"n": %d}' % n))
                sockets.append(sock)
            health = requests.get(f"{server.url}/health", timeout=PROMPT)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        answers = [read_answer(sock) for sock in sockets]
        for sock in sockets:
            sock.close()
        count = wait_for(
            lambda: requests.get(f"{server.url}/health", timeout=10).json()["results"], 30
        )

    assert health.status_code == 200
    assert [a.status if a else None for a in answers] == [201] * 20
    assert count == 20
