"""Invocation overhead of the two invokers: how long from ``invoke()`` to the handler.

``python -m bench invokers [--runs N] [--functions N]`` builds a throwaway
Chalice project of no-op scheduled functions and reports, per mode, the delay
between calling ``invoke`` and the handler starting (p50/p99/max over
sequential warm runs), the full round trip, the time until many distinct
functions fired at once have all started, and the round trip of large replies
(which should grow linearly with their size, up to Lambda's 6 MB).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from localbridge.abc import Invoker
from localbridge.events import AwsIdentity, scheduled_event
from localbridge.invokers.process import ProcessInvoker
from localbridge.invokers.thread import ThreadInvoker
from localbridge.model import FunctionSpec, InvocationResult

NOOP = """
@bp.schedule("rate(1 minute)")
def noop_{n}(event):
    return time.time()
"""


LARGE = """
@bp.schedule("rate(1 minute)")
def large(event):
    return "x" * event.detail["size"]
"""
LARGE_SIZES_MB = (0.75, 1.5, 3.0, 6.0)


def write_noop_project(root: Path, count: int) -> list[FunctionSpec]:
    """app.py plus a Blueprint of ``count`` functions that return when they started."""
    (root / ".chalice").mkdir(parents=True)
    (root / ".chalice" / "config.json").write_text(
        json.dumps({"version": "2.0", "app_name": "bench", "stages": {"dev": {}}})
    )
    (root / "app.py").write_text(
        "from chalice import Chalice\nfrom noops import bp\n"
        "app = Chalice(app_name='bench')\napp.register_blueprint(bp)\n"
    )
    body = "".join(NOOP.format(n=n) for n in range(count)) + LARGE
    (root / "noops.py").write_text(
        f"import time\nfrom chalice import Blueprint\nbp = Blueprint(__name__)\n{body}"
    )
    return [
        FunctionSpec(f"noop_{n}", f"noops.noop_{n}", "rate(1 minute)", "bench", "dev")
        for n in range(count)
    ]


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):7.3f} ms  p99 {p99:7.3f} ms  max {ordered[-1]:7.3f} ms"


def sequential(invoker: Invoker, function: FunctionSpec, runs: int) -> None:
    """Start delay and round trip of one warm function, one run after another."""
    event = scheduled_event(function, datetime.now(UTC), AwsIdentity())
    invoker.invoke(function, event, "warm-up")
    delays, round_trips = [], []
    for n in range(runs):
        called = time.time()
        result = invoker.invoke(function, event, f"req-{n}")
        round_trips.append((time.time() - called) * 1000)
        delays.append((result.payload - called) * 1000)
    print(f"  start delay  {percentiles(delays)}  ({runs} sequential runs)")
    print(f"  round trip   {percentiles(round_trips)}")


def burst(invoker: Invoker, functions: list[FunctionSpec], callers: int) -> None:
    """Fire every function at once from ``callers`` threads; when had all started?

    Each thread invokes its own share of the functions in turn, so what is
    measured is the invoker, not a thread pool's hand-offs.
    """
    event = scheduled_event(functions[0], datetime.now(UTC), AwsIdentity())
    shares = [functions[n::callers] for n in range(callers)]
    results: list[InvocationResult] = []
    go = threading.Event()

    def fire(share: list[FunctionSpec]) -> None:
        go.wait()
        results.extend(invoker.invoke(f, event, "burst") for f in share)

    threads = [threading.Thread(target=fire, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    fired = time.time()
    go.set()
    for thread in threads:
        thread.join()
    started = [r.payload for r in results if r.succeeded]
    last = (max(started) - fired) * 1000
    print(
        f"  burst        {len(started)}/{len(functions)} distinct functions from {callers} "
        f"threads: all started {last:.0f} ms after the first call"
    )


def large_replies(invoker: Invoker, runs: int = 5) -> None:
    """Median round trip of replies of growing size: linear growth is the target."""
    function = FunctionSpec("large", "noops.large", "rate(1 minute)", "bench", "dev")
    figures = []
    for size_mb in LARGE_SIZES_MB:
        event = scheduled_event(function, datetime.now(UTC), AwsIdentity())
        event["detail"] = {"size": int(size_mb * 1024 * 1024) - 2}  # the JSON string's quotes
        samples = []
        for _ in range(runs):
            called = time.monotonic()
            result = invoker.invoke(function, event, "large")
            samples.append((time.monotonic() - called) * 1000)
            assert result.succeeded, result.error_message
        median = statistics.median(samples)
        figures.append(f"{size_mb:g} MB {median:.0f} ms ({median / size_mb:.0f} ms/MB)")
    print(f"  large reply  {', '.join(figures)}")


def run_mode(
    name: str, make: Callable[[], Invoker], functions: list[FunctionSpec], runs: int, callers: int
) -> None:
    print(f"{name} mode")
    invoker = make()
    try:
        warm = invoker.warm  # type: ignore[attr-defined]
        begun = time.monotonic()
        warm(functions)
        print(
            f"  warm-up      {len(functions)} functions ready in {time.monotonic() - begun:.2f} s"
        )
        sequential(invoker, functions[0], runs)
        burst(invoker, functions, callers)
        large_replies(invoker)
    finally:
        invoker.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench invokers")
    parser.add_argument("--runs", type=int, default=500, help="sequential runs per mode")
    parser.add_argument("--functions", type=int, default=10_000, help="thread-mode burst size")
    parser.add_argument("--workers", type=int, default=8, help="process-mode burst size")
    parser.add_argument("--callers", type=int, default=64, help="threads calling invoke")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        functions = write_noop_project(project, max(args.functions, args.workers))
        run_mode(
            "thread",
            lambda: ThreadInvoker(project),
            functions[: args.functions],
            args.runs,
            args.callers,
        )
        run_mode(
            "process",
            lambda: ProcessInvoker(project),
            functions[: args.workers],
            args.runs,
            args.workers,
        )
    return 0
