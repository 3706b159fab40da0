"""What the runtime benchmarks share: throwaway projects, percentiles, a settled-ticks counter."""

from __future__ import annotations

import json
import statistics
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from localbridge.model import FunctionSpec
from localbridge.ticks import Tick, TickState

START = datetime(2022, 12, 19, tzinfo=UTC)

STAMP_APP = """\
import time

from chalice import Chalice, Cron

app = Chalice(app_name="bench")


@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def stamp(event):
    return time.monotonic()
"""


def write_project(root: Path, app_source: str) -> Path:
    (root / ".chalice").mkdir(parents=True, exist_ok=True)
    config = {"version": "2.0", "app_name": "bench", "stages": {"local": {}}}
    (root / ".chalice" / "config.json").write_text(json.dumps(config))
    (root / "app.py").write_text(app_source)
    return root


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary_ms(samples: Sequence[float]) -> str:
    return (
        f"p50 {statistics.median(samples):7.2f} ms  p99 {percentile(samples, 0.99):7.2f} ms  "
        f"max {max(samples):7.2f} ms  min {min(samples):6.2f} ms  (n={len(samples)})"
    )


class Settled:
    """Counts ticks that reached a final state; wakes a waiter at ``target``."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, tick: Tick, state: TickState) -> None:
        if state in (TickState.RETRYING, TickState.RUNNING):
            return
        with self._lock:
            self.count += 1
            if self.count >= self.target:
                self.done.set()


def noop_functions(project: Path, count: int) -> list[FunctionSpec]:
    (project / "noop.py").write_text(
        "import time\n\n\ndef handler(event, context):\n    return time.monotonic()\n"
    )
    return [
        FunctionSpec(f"noop_{n}", "noop.handler", "cron(* * * * ? *)", "bench", "local")
        for n in range(count)
    ]
