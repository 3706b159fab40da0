"""Raw HTTP over a socket to a server on 127.0.0.1: requests no client library would send
(a foreign ``Host``, half-sent headers, conflicting lengths) and the bytes that come back."""

from __future__ import annotations

import socket


def exchange(port: int, data: bytes, timeout: float = 30, hang_up: bool = False) -> bytes:
    """Send ``data`` (then close our sending side, with ``hang_up``) and read until
    the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        if hang_up:
            sock.shutdown(socket.SHUT_WR)
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def status_of(answer: bytes) -> int:
    """The status code of a raw ``HTTP/1.1 NNN ...`` answer."""
    return int(answer[9:12])
