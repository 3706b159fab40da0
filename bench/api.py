"""Results API: POST throughput and latency against a real server process.

The server (``python -m api``) and the load generator (``bench/_api_load.py``)
run as two processes on 127.0.0.1; every round starts on a fresh SQLite file
and counts only the posts the store holds afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
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

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATE = 1500.0
TARGET_P99_MS = 50.0


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


def api_environment(port: int, workdir: Path) -> dict[str, str]:
    """The results API's environment for one round: its own database, no token."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RESULTS_DB": str(workdir / f"results-{port}.db"),
    }
    env.pop("RESULTS_API_TOKEN", None)
    return env


def run_load(
    port: int, connections: int, warmup: float, duration: float, env: dict[str, str]
) -> dict[str, Any]:
    """The load generator's figures (a separate process, so it does not share our GIL)."""
    load = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench._api_load",
            "--port",
            str(port),
            "--connections",
            str(connections),
            "--warmup",
            str(warmup),
            "--duration",
            str(duration),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(load.stdout)
    return figures


def measure_round(connections: int, warmup: float, duration: float, workdir: Path) -> Round:
    port = free_port()
    env = api_environment(port, workdir)
    url = f"http://127.0.0.1:{port}"
    with (workdir / "api.log").open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "api"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    try:
        wait_healthy(url, server)
        before = get_json(f"{url}/health")["results"]
        cpu_before = cpu_seconds(server.pid)
        figures = run_load(port, connections, warmup, duration, env)
        cpu_after = cpu_seconds(server.pid)
        stored_total = get_json(f"{url}/health")["results"] - before
    finally:
        server.terminate()
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
    )


def report(rounds: list[Round], connections: int) -> bool:
    for number, r in enumerate(rounds, start=1):
        print(
            f"round {number}: {r.stored_per_s:7.0f} stored POST/s  p50 {r.p50_ms:5.1f} ms"
            f"  p99 {r.p99_ms:5.1f} ms  acknowledged {r.acknowledged}  failed {r.failed}"
            f"  acknowledged incl. warm-up {r.acknowledged_total}, rows stored {r.stored}"
        )
    cpu = [r.server_cpu_us for r in rounds if r.server_cpu_us is not None]
    if cpu:
        per_post = statistics.median(cpu)
        print(
            f"server CPU per stored post: {per_post:.0f} us (median), i.e. about"
            f" {1e6 / per_post:.0f} posts/s per fully available core"
        )
    rate = statistics.median(r.stored_per_s for r in rounds)
    p50 = statistics.median(r.p50_ms for r in rounds)
    p99 = statistics.median(r.p99_ms for r in rounds)
    print(
        f"median of {len(rounds)} rounds, {connections} connections: {rate:.0f} stored POST/s"
        f" (target >= {TARGET_RATE:.0f}), p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        f" (target < {TARGET_P99_MS:.0f} ms)"
    )
    lost = [r for r in rounds if r.stored != r.acknowledged_total or r.failed]
    if lost:
        print("ERROR: some posts failed, or the store does not hold exactly the acknowledged posts")
    return not lost


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not counted")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per round")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}")
    # Other work on the machine takes cores from both processes: say how busy it was.
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        rounds = [
            measure_round(args.connections, args.warmup, args.duration, Path(tmp))
            for _ in range(args.rounds)
        ]
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0 if report(rounds, args.connections) else 1
