"""The console's server refuses foreign Host names and cuts off half-sent requests: raw sockets.

A page reached through DNS rebinding names its own host; answering it would
hand that page the console's action token.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localbridge.console.server import ConsoleServer
from localbridge.console.service import serve_ledger
from localbridge.http_server import Limits
from localbridge.ledger.store import Ledger
from tests.raw_http import exchange

SHORT = Limits(header_timeout=0.5, body_timeout=0.5, write_timeout=5.0)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[ConsoleServer]:
    ledger = tmp_path / "ledger.db"
    Ledger.open(ledger).close()
    server = ConsoleServer("127.0.0.1", 0, SHORT)
    server.bind()
    stop = serve_ledger(server, ledger, None)
    try:
        yield server
    finally:
        stop()


def get(host: str) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:3000", "127.0.0.1.nip.io"])
def test_a_foreign_host_gets_421_and_no_page(console: ConsoleServer, host: str) -> None:
    answer = exchange(console.port, get(host))
    assert answer.startswith(b"HTTP/1.1 421"), answer[:200]
    assert b"token" not in answer
    assert b"localhost, 127.0.0.1 or [::1]" in answer


def test_a_second_host_header_is_refused(console: ConsoleServer) -> None:
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"
    assert exchange(console.port, request).startswith(b"HTTP/1.1 421")


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]"])
def test_loopback_names_get_the_page(console: ConsoleServer, host: str) -> None:
    answer = exchange(console.port, get(host.format(port=console.port)))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_an_action_from_a_foreign_host_does_nothing(console: ConsoleServer) -> None:
    body = b"token=anything"
    request = (
        b"POST /functions/any/pause HTTP/1.1\r\nHost: evil.example\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    ) + body
    assert exchange(console.port, request).startswith(b"HTTP/1.1 421")


def test_headers_that_stop_arriving_get_408(console: ConsoleServer) -> None:
    answer = exchange(console.port, b"GET / HTTP/1.1\r\nHost: localh")
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_a_form_that_stops_arriving_gets_408(console: ConsoleServer) -> None:
    request = (
        b"POST /functions/any/pause HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Length: 100\r\n\r\ntoken="
    )
    answer = exchange(console.port, request)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"body" in answer
