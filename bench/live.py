"""localbridge's live firing path (``localbridge run``): lateness and a burst, beside floors.

``python -m bench live [lateness] [burst] [--rounds N]`` (default: both, 3 rounds).

- lateness: a function due every minute under a virtual clock (1200x, one
  fire per 50 ms), >= 200 ticks per mode, in thread mode and with warm worker
  processes; lateness is from the instant the clock shows the scheduled time
  to the handler's first line (``time.monotonic()``, system-wide on Linux, so
  worker processes can report it), from unclipped values: an early fire
  would show as negative. Its floor, in the same round: ``Condition.wait``
  to a deadline, then a hand-off to a waiting thread that reads the clock.
- burst: 10,000 no-op functions all due at the same minute (thread mode), the
  ledger in memory and on disk; a real-time virtual clock starts 5 s before
  that minute, so the runtime writes the ticks ahead as it would in ``run``,
  after warming every function as ``run`` does (handlers imported, Lambda
  context fields made). "started": from the instant until the last handler's
  first line; "recorded": until the last run's outcome is committed (every
  attempt's start and outcome row). Each burst runs in a fresh interpreter.
  Its floor, in the same round: 8 threads taking 10,000 no-op handler calls
  from a ``queue.Queue`` while it is filled.

Rounds interleave each figure with its floor, so load moves both alike.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bench._common import STAMP_APP, START, Settled, noop_functions, summary_ms, write_project
from localbridge.clock import VirtualClock
from localbridge.ledger.store import Ledger
from localbridge.project.loading import load_functions
from localbridge.runtime.assemble import Mode, make_invoker, make_runtime, warm
from localbridge.ticks import TickState

BURST = 10_000
BURST_LEAD_S = float(os.environ.get("BENCH_BURST_LEAD_S", "5"))
"""Real seconds between the runtime's start and the burst's instant (more for a
runtime that starts 10,000 functions slowly; its start must end before the instant)."""


# -- floors ----------------------------------------------------------------------


def lateness_floor(ticks: int = 220, interval_s: float = 0.05) -> list[float]:
    """ms from each deadline to a waiting thread's first line, after ``Condition.wait``."""
    handed: queue.SimpleQueue[float | None] = queue.SimpleQueue()
    samples: list[float] = []

    def worker() -> None:
        while (deadline := handed.get()) is not None:
            samples.append((time.monotonic() - deadline) * 1000)

    thread = threading.Thread(target=worker)
    thread.start()
    condition = threading.Condition()
    deadline = time.monotonic()
    for _ in range(ticks):
        deadline += interval_s
        with condition:
            while (remaining := deadline - time.monotonic()) > 0:
                condition.wait(remaining)
        handed.put(deadline)
    handed.put(None)
    thread.join()
    return samples


def noop_handler(event: dict[str, str], context: None) -> float:
    return time.monotonic()


def burst_floor(count: int = BURST, threads: int = 8) -> float:
    """Seconds until the last of ``count`` no-op handler calls started, 8 threads
    taking them from a ``queue.Queue`` while it is filled."""
    calls: queue.Queue[Callable[[dict[str, str], None], float] | None] = queue.Queue()
    starts: list[float] = []
    event = {"time": "2022-12-19T00:01:00Z"}

    def worker() -> None:
        while (call := calls.get()) is not None:
            starts.append(call(event, None))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    began = time.monotonic()
    for _ in range(count):
        calls.put(noop_handler)
    for _ in workers:
        calls.put(None)
    for thread in workers:
        thread.join()
    return max(starts) - began


# -- lateness --------------------------------------------------------------------


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


# -- the burst ---------------------------------------------------------------------


def burst(count: int, ledger_path: Path | None) -> tuple[float, float]:
    """(seconds from the instant until every handler started, until every run was recorded)."""
    with tempfile.TemporaryDirectory() as scratch:
        project = write_project(Path(scratch) / "p", STAMP_APP)
        functions = noop_functions(project, count)
        ledger = Ledger.open(ledger_path or Path(":memory:"))
        invoker = make_invoker(Mode.THREAD, project)
        warm(invoker, functions)  # as `run` does
        due = START + timedelta(minutes=1)
        clock = VirtualClock(due - timedelta(seconds=BURST_LEAD_S))
        settled = Settled(count)
        runtime = make_runtime(functions, ledger, invoker, clock, listeners=[settled])
        runtime.start()
        started_by = time.monotonic() - clock.monotonic_at(due)
        settled.done.wait(BURST_LEAD_S + 120)
        recorded = time.monotonic() - clock.monotonic_at(due)
        runtime.stop(5)
        invoker.close()
        ticks = ledger.find(state=TickState.SUCCEEDED)
        starts = [float(a.payload) for t in ticks for a in ledger.attempts(t.id) if a.payload]
        ledger.close()
        assert len(starts) == count, f"only {len(starts)} of {count} ran"
        early = [s for s in starts if s < clock.monotonic_at(due)]
        assert not early, f"{len(early)} of {count} started before their instant"
        assert started_by < 0, f"the runtime started {started_by:.2f} s after the instant"
        return max(starts) - clock.monotonic_at(due), recorded


# -- main --------------------------------------------------------------------------


def report_lateness(rounds: int) -> None:
    figures: dict[str, list[float]] = {"thread": [], "process": [], "floor": []}
    for _ in range(rounds):
        figures["floor"] += lateness_floor()
        figures["thread"] += lateness(Mode.THREAD)
        figures["floor"] += lateness_floor()
        figures["process"] += lateness(Mode.PROCESS)
    for name, samples in figures.items():
        early = sum(1 for s in samples if s < 0)
        label = "floor (Condition.wait + hand-off)" if name == "floor" else f"{name} mode"
        print(f"firing lateness, {label:33}: {summary_ms(samples)}  early: {early}")


def burst_in_a_fresh_process(count: int, ledger_path: Path | None) -> tuple[float, float]:
    """``burst`` in its own interpreter: the threads and modules an earlier burst or
    lateness run left behind (a pool's threads stay) must not weigh on this one."""
    command = [
        sys.executable,
        "-m",
        "bench.live",
        "--one-burst",
        str(count),
        str(ledger_path or ""),
    ]
    done = subprocess.run(
        command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"the burst failed:\n{done.stdout}\n{done.stderr}")
    started, recorded = json.loads(done.stdout.strip().splitlines()[-1])
    return float(started), float(recorded)


def report_burst(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        runs: dict[str, list[tuple[float, float]]] = {"in memory": [], "on disk": []}
        floors = []
        for n in range(rounds):
            floors.append(burst_floor())
            runs["in memory"].append(burst_in_a_fresh_process(BURST, None))
            floors.append(burst_floor())
            runs["on disk"].append(burst_in_a_fresh_process(BURST, Path(scratch) / f"l{n}.db"))
        for label, figures in runs.items():
            started = [f[0] for f in figures]
            recorded = [f[1] for f in figures]
            print(
                f"{BURST:,} functions due at once, thread mode, ledger {label}: all started "
                f"after {statistics.median(started):.3f} s (rounds: "
                f"{', '.join(f'{s:.3f}' for s in started)}), all recorded after "
                f"{statistics.median(recorded):.3f} s (max {max(recorded):.3f})"
            )
        print(
            f"floor, 8 threads taking {BURST:,} no-op calls from a queue while it is filled: "
            f"{statistics.median(floors) * 1000:.0f} ms (max {max(floors) * 1000:.0f} ms)"
        )


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one-burst"]:
        print(json.dumps(burst(int(argv[1]), Path(argv[2]) if argv[2] else None)))
        return 0
    rounds = 3
    if "--rounds" in argv:
        at = argv.index("--rounds")
        rounds = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    parts = argv or ["lateness", "burst"]
    load = os.getloadavg()[0]
    print(
        f"localbridge live firing, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"load average {load:.1f}, {rounds} round(s)"
    )
    if "lateness" in parts:
        report_lateness(rounds)
    if "burst" in parts:
        report_burst(rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
