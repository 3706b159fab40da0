"""Load generator for ``bench/api.py``, run in its own process.

Keeps N keep-alive connections busy with POST /result, each post a distinct
result under a distinct Idempotency-Key, and prints one JSON line of figures.
Raw asyncio streams keep the generator's own cost per request small, since it
shares the machine's cores with the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field


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


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def connection_loop(
    host: str, port: int, connection: int, start: float, stop: float, tally: Tally
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    number = 0
    try:
        while True:
            begun = time.perf_counter()
            if begun >= stop:
                return
            writer.write(request_bytes(host, port, connection, number))
            status = await read_response(reader)
            done = time.perf_counter()
            number += 1
            tally.created_total += status == 201
            if begun >= start:  # requests begun during warm-up are not counted
                tally.latencies.append(done - begun)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def run(
    host: str, port: int, connections: int, warmup: float, duration: float
) -> dict[str, object]:
    tally = Tally()
    start = time.perf_counter() + warmup
    stop = start + duration
    loops = [connection_loop(host, port, n, start, stop, tally) for n in range(connections)]
    await asyncio.gather(*loops)
    return {
        "seconds": duration,
        "latencies": tally.latencies,
        "statuses": tally.statuses,
        "created_total": tally.created_total,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench._api_load")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.host, args.port, args.connections, args.warmup, args.duration))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
