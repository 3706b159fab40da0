"""Whether a local port is free, and the next free one to suggest."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def port_taken(port: int) -> bool:
    """True when a program listens on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        # As uvicorn and http.server bind: a port only in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def free_port_after(port: int, avoid: frozenset[int] = frozenset()) -> int:
    """The first free port above ``port`` that is not in ``avoid`` (the other one asked for)."""
    return next(p for p in range(port + 1, 65536) if p not in avoid and not port_taken(p))
