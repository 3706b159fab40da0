"""Results API: POST throughput and latency against real server processes, side by side.

Each round measures, one after the other on the same machine, this tree's API
and its floor: a minimal Starlette app with one commit per post on the same
server stack (``bench/_api_servers.py``). Targets: the API stores at least as
many POST/s as the floor at 16 connections, with p99 under 25 ms. The server
and the load generator (``bench/_api_load.py``) run as two processes on
127.0.0.1; every round starts on a fresh SQLite file. After every round the
server is killed with SIGKILL and the file is read directly: it must hold
every acknowledged post exactly once (durable before 2xx, no duplicates), or
the benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench._api_servers import FLOOR_DESCRIPTION, ROOT, Server, floor, this_tree

TARGET_RATIO = 1.0  # stored POST/s against the floor's, same run
TARGET_P99_MS = 25.0


@dataclass(frozen=True)
class Round:
    stored_per_s: float
    p50_ms: float
    p99_ms: float
    acknowledged: int
    acknowledged_total: int
    stored: int
    failed: int
    server_cpu_us: float | None  # server CPU time per stored post, warm-up included
    durable: bool  # after SIGKILL the file holds each acknowledged post once


def check_after_kill(db: Path, acknowledged: int) -> bool:
    """Read the file of a killed server: every acknowledged post, once each."""
    with sqlite3.connect(db) as conn:
        rows, keys = conn.execute(
            "SELECT count(*), count(DISTINCT idempotency_key) FROM result"
        ).fetchone()
    conn.close()
    return bool(rows == keys == acknowledged)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the API exited with code {server.returncode}")
        try:
            get_json(f"{url}/health")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)  # polling interval while the server starts
    raise RuntimeError(f"the API did not answer {url}/health within {timeout} s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux); None where /proc is absent."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def api_environment(port: int, db: Path) -> dict[str, str]:
    """A server's environment for one round: its own database, no token."""
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "RESULTS_DB": str(db)}
    env.pop("RESULTS_API_TOKEN", None)
    return env


def run_load(
    port: int, connections: int, warmup: float, duration: float, env: dict[str, str], out: Path
) -> dict[str, Any]:
    """The load generator's figures (a separate process, so it does not share our GIL).

    They come through a file: a pipe has been seen to hand over only the first
    part of the one long line of figures.
    """
    load = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench._api_load",
            *("--port", str(port), "--connections", str(connections)),
            *("--warmup", str(warmup), "--duration", str(duration), "--out", str(out)),
        ],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=True,
    )
    text = out.read_text()
    try:
        figures: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as error:
        # Say what came instead of the figures, to tell why.
        err = load.stderr.decode(errors="replace")
        raise RuntimeError(
            f"the load generator's output is not its figures ({error}); around the fault:"
            f" {text[max(0, error.pos - 200) : error.pos + 200]!r}"
            f" (of {len(text)} characters); its stderr ends: {err[-500:]!r}"
        ) from None
    return figures


def measure_round(
    target: Server, connections: int, warmup: float, duration: float, workdir: Path
) -> Round:
    port = free_port()
    db = workdir / f"results-{port}.db"
    env = api_environment(port, db)
    url = f"http://127.0.0.1:{port}"
    with (workdir / "api.log").open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, *target.args],
            cwd=target.cwd,
            env={**env, "PYTHONPATH": target.pythonpath},
            stdout=log,
            stderr=log,
        )
    try:
        wait_healthy(url, server)
        before = get_json(f"{url}/health")["results"]
        cpu_before = cpu_seconds(server.pid)
        figures = run_load(port, connections, warmup, duration, env, workdir / f"load-{port}.json")
        cpu_after = cpu_seconds(server.pid)
        stored_total = get_json(f"{url}/health")["results"] - before
    finally:
        server.send_signal(signal.SIGKILL)  # durability is checked on the file it leaves
        server.wait(timeout=30)
    latencies = sorted(figures["latencies"])
    statuses = {int(k): v for k, v in figures["statuses"].items()}
    acknowledged = statuses.get(201, 0)
    return Round(
        stored_per_s=acknowledged / figures["seconds"],
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        acknowledged=acknowledged,
        acknowledged_total=figures["created_total"],
        stored=stored_total,
        failed=sum(v for k, v in statuses.items() if k != 201),
        server_cpu_us=None
        if cpu_before is None or cpu_after is None or not stored_total
        else (cpu_after - cpu_before) / stored_total * 1e6,
        durable=check_after_kill(db, figures["created_total"]),
    )


@dataclass(frozen=True)
class Summary:
    rate: float
    p50: float
    p99: float
    cpu_us: float | None
    exact: bool


def summarize(target: Server, rounds: list[Round]) -> Summary:
    for number, r in enumerate(rounds, start=1):
        cpu = "" if r.server_cpu_us is None else f"  CPU {r.server_cpu_us:4.0f} us/post"
        print(
            f"  {target.name} round {number}: {r.stored_per_s:6.0f} stored POST/s"
            f"  p50 {r.p50_ms:5.1f} ms  p99 {r.p99_ms:5.1f} ms{cpu}  acknowledged"
            f" {r.acknowledged_total} (incl. warm-up), stored {r.stored}, failed {r.failed},"
            f" after kill -9 {'exact' if r.durable else 'NOT EXACT'}"
        )
    cpu_us = [r.server_cpu_us for r in rounds if r.server_cpu_us is not None]
    exact = all(r.durable and r.stored == r.acknowledged_total and not r.failed for r in rounds)
    return Summary(
        statistics.median(r.stored_per_s for r in rounds),
        statistics.median(r.p50_ms for r in rounds),
        statistics.median(r.p99_ms for r in rounds),
        statistics.median(cpu_us) if cpu_us else None,
        exact,
    )


def report(summaries: dict[str, Summary], connections: int) -> bool:
    print(f"median of each server's rounds, {connections} connections, same run:")
    base = summaries.get("floor")
    for name, s in summaries.items():
        ratio = f"  {s.rate / base.rate:4.2f}x floor" if base else ""
        cpu = "" if s.cpu_us is None else f"  CPU {s.cpu_us:4.0f} us/post"
        print(
            f"  {name:<6} {s.rate:6.0f} stored POST/s  p50 {s.p50:5.1f} ms  p99 {s.p99:5.1f} ms"
            f"{cpu}{ratio}"
        )
    ours = summaries["api"]
    if base:
        met = ours.rate >= TARGET_RATIO * base.rate
        print(f"floor: {FLOOR_DESCRIPTION}")
        print(f"target stored POST/s >= the floor's: {'met' if met else 'MISSED'}")
    print(f"target p99 < {TARGET_P99_MS:.0f} ms: {'met' if ours.p99 < TARGET_P99_MS else 'MISSED'}")
    broken = [name for name, s in summaries.items() if name != "floor" and not s.exact]
    if broken:
        print(
            f"ERROR: {', '.join(broken)}: a post failed, or the file after kill -9 does not"
            " hold exactly the acknowledged posts"
        )
    return not broken


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not counted")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per round")
    parser.add_argument("--no-floor", action="store_true", help="skip the minimal Starlette floor")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}")
    # Other work on the machine takes cores from every process: say how busy it was.
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        workdir = Path(tmp)
        targets = {"api": this_tree()}
        if not args.no_floor:
            targets["floor"] = floor()
        rounds: dict[str, list[Round]] = {name: [] for name in targets}
        # Interleaved, so a change in the machine's load touches every server alike.
        for _ in range(args.rounds):
            for name, target in targets.items():
                rounds[name].append(
                    measure_round(target, args.connections, args.warmup, args.duration, workdir)
                )
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    summaries = {name: summarize(targets[name], rounds[name]) for name in targets}
    return 0 if report(summaries, args.connections) else 1
