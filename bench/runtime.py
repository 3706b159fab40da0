"""localbridge's runtime: firing lateness, fan-out, ledger overhead, start.

``python -m bench runtime [lateness] [fanout] [ledger] [start]`` (default: all four);
``week`` and ``replay`` run ``bench.replay``'s week (with memory) and year.

- lateness: a function due every minute under a virtual clock (1200x), >= 200
  ticks per mode; lateness is from the instant the clock shows the scheduled
  time to the handler's first line (``time.monotonic()``, system-wide on
  Linux, so worker processes can report it), computed from unclipped values.
- fanout: 10,000 no-op functions all due at the same minute (thread mode);
  time from the clock reaching that minute until the last handler started,
  with the ledger in memory and in a file on disk.
- ledger: the ledger writes of one invocation (record the tick, open the
  attempt, close it) on a file on disk.
- start: ``localbridge list`` on the shipped project, and the first tick of
  ``run`` (thread mode, a virtual clock 1 ms before a fire instant) from
  spawning it to the attempt's row in the ledger, beside the floor: one
  interpreter importing the app and localbridge's command line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import startup
from localbridge.clock import ManualClock, VirtualClock
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec, InvocationResult, Outcome
from localbridge.project.loading import load_functions
from localbridge.runtime.assemble import Mode, make_invoker, make_runtime, warm
from localbridge.ticks import AttemptEnd, NewTick, Tick, TickSource, TickState

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_DB = ROOT.parent / "shared" / "data" / "registration.sqlite"
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


# -- lateness ------------------------------------------------------------------


def lateness(mode: Mode, ticks: int = 220, speed: float = 1200.0) -> list[float]:
    with tempfile.TemporaryDirectory() as scratch:
        project = write_project(Path(scratch) / "p", STAMP_APP)
        functions = load_functions(project, "local", {})
        ledger = Ledger.open(Path(scratch) / "ledger.db")
        invoker = make_invoker(mode, project)
        warm(invoker, functions)
        clock = VirtualClock(START, speed)
        settled = Settled(ticks)
        runtime = make_runtime(functions, ledger, invoker, clock, listeners=[settled])
        runtime.start()
        settled.done.wait(ticks * 60 / speed + 60)
        runtime.stop(5)
        invoker.close()
        samples = []
        for tick in ledger.find("stamp")[:ticks]:
            attempt = ledger.attempts(tick.id)[0]
            if attempt.payload is not None:
                started = float(attempt.payload)
                samples.append((started - clock.monotonic_at(tick.scheduled_at)) * 1000)
        ledger.close()
        return samples


# -- fan-out -------------------------------------------------------------------


def noop_functions(project: Path, count: int) -> list[FunctionSpec]:
    (project / "noop.py").write_text(
        "import time\n\n\ndef handler(event, context):\n    return time.monotonic()\n"
    )
    return [
        FunctionSpec(f"noop_{n}", "noop.handler", "cron(* * * * ? *)", "bench", "local")
        for n in range(count)
    ]


def fanout(count: int, ledger_path: Path | None) -> tuple[float, float]:
    """(seconds until every handler started, seconds until every run was recorded)."""
    with tempfile.TemporaryDirectory() as scratch:
        project = write_project(Path(scratch) / "p", STAMP_APP)
        functions = noop_functions(project, count)
        ledger = Ledger.open(ledger_path or Path(":memory:"))
        invoker = make_invoker(Mode.THREAD, project)
        warm(invoker, functions[:1])
        due = START + timedelta(minutes=1)
        clock = ManualClock(due - timedelta(seconds=30))
        settled = Settled(count)
        runtime = make_runtime(functions, ledger, invoker, clock, listeners=[settled])
        runtime.start()
        began = time.monotonic()
        clock.set(due)
        settled.done.wait(120)
        recorded = time.monotonic() - began
        runtime.stop(5)
        invoker.close()
        starts = [
            float(a.payload)
            for t in ledger.find(state=TickState.SUCCEEDED)
            for a in ledger.attempts(t.id)
            if a.payload is not None
        ]
        ledger.close()
        assert len(starts) == count, f"only {len(starts)} of {count} ran"
        return max(starts) - began, recorded


# -- ledger overhead -------------------------------------------------------------


def ledger_overhead(invocations: int = 2000) -> float:
    """Median ms of ledger work per invocation over 5 rounds."""
    rounds = []
    with tempfile.TemporaryDirectory() as scratch:
        ledger = Ledger.open(Path(scratch) / "ledger.db")
        result = InvocationResult(Outcome.SUCCEEDED, 0.0, 0.001, payload={"count": 12})
        instant = START
        for _ in range(5):
            began = time.perf_counter()
            for _ in range(invocations):
                instant += timedelta(minutes=1)
                (tick,) = ledger.add_ticks(
                    [NewTick("f", instant, TickSource.SCHEDULE, instant)], instant
                )
                number = ledger.begin_attempt(tick.id, instant, 0.0)
                ledger.finish_attempt(
                    tick.id, number, AttemptEnd(result, instant, TickState.SUCCEEDED)
                )
            rounds.append((time.perf_counter() - began) * 1000 / invocations)
        ledger.close()
    return statistics.median(rounds)


# -- main ------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parts = argv or ["lateness", "fanout", "ledger", "start"]
    print(
        f"localbridge runtime benchmarks, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    if "lateness" in parts:
        for mode in (Mode.THREAD, Mode.PROCESS):
            samples = lateness(mode)
            negative = sum(1 for s in samples if s < 0)
            print(
                f"firing lateness, {mode.value:7} mode: {summary_ms(samples)}  negative: {negative}"
            )
    if "fanout" in parts:
        with tempfile.TemporaryDirectory() as scratch:
            for label, path in [
                ("ledger in memory", None),
                ("ledger on disk", Path(scratch) / "l.db"),
            ]:
                started, recorded = fanout(10_000, path)
                print(
                    f"10,000 functions due at once, thread mode, {label}: all started after "
                    f"{started:.2f} s, all recorded after {recorded:.2f} s"
                )
    if "ledger" in parts:
        print(f"ledger writes per invocation (file, WAL): {ledger_overhead() * 1000:.0f} us")
    if "start" in parts:
        startup.report_start()
    # The replay figures live in ``bench.replay`` (which ``make bench`` runs on its own).
    from bench import replay  # here: ``bench.replay`` imports this module's helpers

    if "week" in argv:
        replay.report_week()
        replay.report_memory()
    if "replay" in argv:
        replay.report_year()
    return 0
