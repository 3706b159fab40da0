"""Load generator for ``bench/api.py``, run in its own process.

Keeps N keep-alive connections busy with POST /result, each post a distinct
result under a distinct Idempotency-Key, and writes its figures as JSON (to --out, or stdout).

It shares the machine's two cores with the server it measures, so its own cost
per request is kept as small as Python allows: one asyncio protocol per
connection on uvloop (when installed), each answer parsed from the buffer with
a few byte searches, the next request sent from the callback that read the
answer. Every server is measured with this same generator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

HEAD_END = b"\r\n\r\n"
LENGTH_HEADER = b"\r\ncontent-length:"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    created_total: int = 0  # 201s including warm-up, to check against the store


def request_bytes(host: str, port: int, connection: int, number: int) -> bytes:
    body = json.dumps(
        {"metric": "bench", "connection": connection, "number": number, "value": number * 0.5}
    ).encode()
    head = (
        f"POST /result HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Idempotency-Key: bench/{connection}/{number}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def split_answer(buffer: bytearray) -> tuple[int, int] | None:
    """(status, bytes the first whole answer in ``buffer`` takes), or None while incomplete."""
    end = buffer.find(HEAD_END)
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    status = int(head[9:12])  # "HTTP/1.1 201 ..."
    at = head.find(LENGTH_HEADER)
    length = 0
    if at >= 0:
        value_end = head.find(b"\r\n", at + len(LENGTH_HEADER))
        length = int(head[at + len(LENGTH_HEADER) : value_end if value_end >= 0 else None])
    size = end + len(HEAD_END) + length
    return (status, size) if len(buffer) >= size else None


class PostingConnection(asyncio.Protocol):
    """One connection posting back to back: the next post leaves when an answer is read."""

    def __init__(self, target: tuple[str, int], number: int, window: tuple[float, float]):
        self.target, self.connection = target, number
        self.start, self.stop = window
        self.tally = Tally()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.sent = 0
        self.begun = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP transport
        self.post_next()

    def post_next(self) -> None:
        assert self.transport is not None
        self.begun = time.perf_counter()
        if self.begun >= self.stop:
            self.transport.close()
            return
        host, port = self.target
        self.transport.write(request_bytes(host, port, self.connection, self.sent))
        self.sent += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answer = split_answer(self.buffer)
        if answer is None:
            return
        status, size = answer
        del self.buffer[:size]
        self.count(status, time.perf_counter() - self.begun)
        self.post_next()

    def count(self, status: int, latency: float) -> None:
        tally = self.tally
        tally.created_total += status == 201
        if self.begun >= self.start:  # requests begun during warm-up are not counted
            tally.latencies.append(latency)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def run(
    host: str, port: int, connections: int, warmup: float, duration: float
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    start = time.perf_counter() + warmup
    window = (start, start + duration)
    opened = [
        loop.create_connection(partial(PostingConnection, (host, port), n, window), host, port)
        for n in range(connections)
    ]
    protocols = [protocol for _, protocol in await asyncio.gather(*opened)]
    await asyncio.gather(*(protocol.done for protocol in protocols))
    total = Tally()
    for protocol in protocols:
        total.latencies += protocol.tally.latencies
        total.created_total += protocol.tally.created_total
        for status, count in protocol.tally.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
    return {
        "seconds": duration,
        "latencies": total.latencies,
        "statuses": total.statuses,
        "created_total": total.created_total,
    }


def event_loop_runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # the stock loop: slower, the same figures' meaning
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._api_load")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--out", type=Path, help="write the figures there (default: stdout)")
    args = parser.parse_args(argv)
    with event_loop_runner() as runner:
        figures = runner.run(
            run(args.host, args.port, args.connections, args.warmup, args.duration)
        )
    if args.out is None:
        print(json.dumps(figures))
    else:
        args.out.write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
