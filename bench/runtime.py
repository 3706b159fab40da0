"""localbridge's runtime: firing lateness, fan-out, ledger overhead, a year's replay.

``python -m bench runtime [lateness] [fanout] [ledger] [week] [start] [replay]`` (default: all).

- lateness: a function due every minute under a virtual clock (1200x), >= 200
  ticks per mode; lateness is from the instant the clock shows the scheduled
  time to the handler's first line (``time.monotonic()``, system-wide on
  Linux, so worker processes can report it), computed from unclipped values.
- fanout: 10,000 no-op functions all due at the same minute (thread mode);
  time from the clock reaching that minute until the last handler started,
  with the ledger in memory and in a file on disk.
- ledger: the ledger writes of one invocation (record the tick, open the
  attempt, close it) on a file on disk.
- week: ``replay`` (in-process, ``--concurrency 4``) of 7 days of a no-op
  ``rate(1 minute)`` function (10,080 runs) in both modes, beside the floor:
  the same handler called 10,080 times plus the rows written in one
  transaction; and the traced memory peak of 1 day against 7 days.
- start: ``localbridge list`` on the shipped project, and the first tick of
  ``run`` (thread mode, a virtual clock 1 ms before a fire instant) from
  spawning it to the attempt's row in the ledger, beside the floor: one
  interpreter importing the app and localbridge's command line.
- replay: ``python -m localbridge replay`` of all of 2022 for both jobs in
  worker processes, against the original data when present and a running
  results API (417 invocations).
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench import startup
from bench.startup import free_port, wait_until
from localbridge.clock import ManualClock, SystemClock, VirtualClock
from localbridge.instants import format_instant
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec, InvocationResult, Outcome
from localbridge.project.loading import load_functions
from localbridge.runtime.assemble import Mode, make_invoker, make_runtime, warm
from localbridge.runtime.replay import replay
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


# -- replay of a week of rate(1 minute) -----------------------------------------

WEEK = timedelta(days=7)


def week_functions(project: Path) -> list[FunctionSpec]:
    (project / "noop.py").write_text("def handler(event, context):\n    return None\n")
    return [FunctionSpec("every_minute", "noop.handler", "rate(1 minute)", "bench", "local")]


def replay_week(mode: Mode, period: timedelta = WEEK, trace: bool = False) -> tuple[float, int]:
    """(seconds for ``replay`` of ``period``, peak traced bytes when ``trace``)."""
    with tempfile.TemporaryDirectory() as scratch:
        project = write_project(Path(scratch) / "p", STAMP_APP)
        functions = week_functions(project)
        ledger = Ledger.open(Path(scratch) / "ledger.db")
        invoker = make_invoker(mode, project)
        warm(invoker, functions)
        runtime = make_runtime(
            functions, ledger, invoker, SystemClock(), fire_schedules=False, overall_limit=4
        )
        if trace:
            tracemalloc.start()
        began = time.perf_counter()
        summary = replay(runtime, ["every_minute"], START, START + period, threading.Event())
        elapsed = time.perf_counter() - began
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        runtime.stop(5)
        invoker.close()
        ledger.close()
        expected = int(period / timedelta(minutes=1))
        assert summary.states[TickState.SUCCEEDED] == expected, summary.states
        return elapsed, peak


def replay_floor(runs: int = int(WEEK / timedelta(minutes=1))) -> float:
    """The same handler called ``runs`` times plus the rows written in one transaction."""
    with tempfile.TemporaryDirectory() as scratch:
        project = write_project(Path(scratch) / "p", STAMP_APP)
        week_functions(project)
        sys.path.insert(0, str(project))
        try:
            handler = importlib.import_module("noop").handler
        finally:
            sys.path.remove(str(project))
            sys.modules.pop("noop", None)
        ledger = Ledger.open(Path(scratch) / "ledger.db")
        ledger.close()
        db = sqlite3.connect(Path(scratch) / "ledger.db", isolation_level=None)
        began = time.perf_counter()
        rows = []
        for n in range(runs):
            instant = format_instant(START + timedelta(minutes=n + 1))
            handler({"time": instant}, None)
            rows.append(("every_minute", instant, "succeeded", "replay", instant, instant, instant))
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO ticks (function, scheduled_at, state, source, enqueued_at, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.executemany(
            "INSERT INTO attempts (tick_id, number, started_at, ended_at, lateness_ms, outcome) "
            "VALUES (?, 1, ?, ?, 0, 'succeeded')",
            [(n + 1, row[1], row[1]) for n, row in enumerate(rows)],
        )
        db.execute("COMMIT")
        elapsed = time.perf_counter() - began
        db.close()
        return elapsed


def report_replay_week() -> None:
    runs = int(WEEK / timedelta(minutes=1))
    floor = replay_floor()
    thread, _ = replay_week(Mode.THREAD)
    process, _ = replay_week(Mode.PROCESS)
    print(
        f"replay of 7 days of rate(1 minute) ({runs:,} no-op runs): thread mode {thread:.2f} s "
        f"({runs / thread:.0f} runs/s, {thread / floor:.1f}x the floor), process mode "
        f"{process:.2f} s ({process / thread:.2f}x thread mode); floor (handler called "
        f"{runs:,} times + rows in one transaction) {floor:.2f} s"
    )
    _, day_peak = replay_week(Mode.THREAD, timedelta(days=1), trace=True)
    _, week_peak = replay_week(Mode.THREAD, WEEK, trace=True)
    per_tick = (week_peak - day_peak) / (runs - runs / 7)
    print(
        f"replay memory (traced peak): 1 day {day_peak / 1e6:.1f} MB, 7 days "
        f"{week_peak / 1e6:.1f} MB: {per_tick:.0f} bytes per extra tick"
    )


# -- replay of 2022 --------------------------------------------------------------


def healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=1).ok
    except requests.ConnectionError:
        return False


def replay_year(concurrency: int) -> tuple[float, float, int, str]:
    """(wall s of the replay command, s from first start to last end, results, data)."""
    data = ORIGINAL_DB if ORIGINAL_DB.is_file() else ROOT / "data" / "registrations.db"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as scratch:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        api_env = dict(env, HOST="127.0.0.1", PORT=str(port), RESULTS_DB=f"{scratch}/results.db")
        api = subprocess.Popen(
            [sys.executable, "-m", "api"],
            env=api_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if not wait_until(lambda: healthy(url), 30):
                raise RuntimeError("the results API did not start")
            ledger_path = Path(scratch) / "ledger.db"
            command = [
                sys.executable, "-m", "localbridge", "replay",
                "--from", "2022-01-01T00:00:00Z", "--to", "2023-01-01T00:00:00Z",
                "--project", str(ROOT), "--ledger", str(ledger_path),
                "--concurrency", str(concurrency), "--env", f"REGISTRATIONS_DB={data}",
                "--env", f"RESULTS_API_URL={url}",
            ]  # fmt: skip
            began = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
            wall = time.perf_counter() - began
            if done.returncode != 0:
                raise RuntimeError(f"replay failed:\n{done.stdout}\n{done.stderr}")
            ledger = Ledger.open(ledger_path)
            attempts = [a for t in ledger.find() for a in ledger.attempts(t.id)]
            ledger.close()
            span = (
                max(a.ended_at for a in attempts if a.ended_at)
                - min(a.started_at for a in attempts)
            ).total_seconds()
            stored = len(requests.get(f"{url}/result", params={"limit": 10000}, timeout=10).json())
            return wall, span, stored, str(data)
        finally:
            api.terminate()
            api.wait(10)


# -- main ------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parts = argv or ["lateness", "fanout", "ledger", "week", "start", "replay"]
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
    if "week" in parts:
        report_replay_week()
    if "start" in parts:
        startup.report_start()
    if "replay" in parts:
        for concurrency in (1, 4):
            wall, span, stored, data = replay_year(concurrency)
            print(
                f"replay of 2022 ({data}), --concurrency {concurrency}: {stored} results; "
                f"command {wall:.1f} s ({stored / wall:.0f} invocations/s), "
                f"runs {span:.1f} s ({stored / span:.0f} invocations/s)"
            )
    return 0
