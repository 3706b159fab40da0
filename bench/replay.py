"""Replay benchmarks: a week of ``rate(1 minute)`` beside its floor, memory, a year of jobs.

``python -m bench replay [week] [memory] [year]`` (default: all three).

- week: ``replay`` (in-process, ``--concurrency 4``) of 7 days of a no-op
  ``rate(1 minute)`` function (10,080 runs) in thread mode and in process
  mode, beside the floor: the same handler called 10,080 times plus the rows
  written in one transaction. Rounds interleave floor, thread and process
  (the machine is shared: absolute times move with its load, ratios less);
  each figure is the median of the rounds, each ratio the median of the
  rounds' ratios. The load average is printed with them.
- memory: the traced (``tracemalloc``) peak of replaying 1, 7 and 28 days.
- year: ``python -m localbridge replay`` of all of 2022 for both jobs in
  worker processes, against the original data when present and a running
  results API (417 invocations).
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import requests

from bench._common import STAMP_APP, START, write_project
from bench.startup import free_port, wait_until
from localbridge.clock import SystemClock
from localbridge.instants import format_instant
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec
from localbridge.runtime.assemble import Mode, make_invoker, make_runtime, warm
from localbridge.runtime.replay import replay
from localbridge.ticks import TickState

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_DB = ROOT.parent / "shared" / "data" / "registration.sqlite"
WEEK = timedelta(days=7)
RUNS = int(WEEK / timedelta(minutes=1))
CONCURRENCY = 4
ROUNDS = 3


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
            functions, ledger, invoker, SystemClock(), fire_schedules=False,
            overall_limit=CONCURRENCY,
        )  # fmt: skip
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


def replay_floor(runs: int = RUNS) -> float:
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
        Ledger.open(Path(scratch) / "ledger.db").close()
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


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def report_week(rounds: int = ROUNDS) -> None:
    """Interleaved rounds of floor, thread mode and process mode; medians.

    Beside the wall times, this process's CPU time for the floor and thread
    mode: on a shared machine it moves less with the load than the wall does.
    """
    walls: dict[str, list[float]] = {"floor": [], "thread": [], "process": []}
    cpus: dict[str, list[float]] = {"floor": [], "thread": [], "process": []}
    measure: dict[str, Callable[[], float]] = {
        "floor": replay_floor,
        "thread": lambda: replay_week(Mode.THREAD)[0],
        "process": lambda: replay_week(Mode.PROCESS)[0],
    }
    before = load()
    for _ in range(rounds):
        for name, run in measure.items():
            cpu = time.process_time()
            walls[name].append(run())
            cpus[name].append(time.process_time() - cpu)
    thread, process, floor = (statistics.median(walls[n]) for n in ("thread", "process", "floor"))
    print(
        f"replay of 7 days of rate(1 minute) ({RUNS:,} no-op runs, --concurrency {CONCURRENCY}, "
        f"median of {rounds} interleaved rounds; {before} before, {load()} after):\n"
        f"  thread mode  {thread:.2f} s ({RUNS / thread:,.0f} runs/s), "
        f"{ratio(walls, 'thread', 'floor'):.1f}x the floor, {_rounds(walls['thread'])}; "
        f"CPU {statistics.median(cpus['thread']):.2f} s, {ratio(cpus, 'thread', 'floor'):.1f}x\n"
        f"  process mode {process:.2f} s ({RUNS / process:,.0f} runs/s), "
        f"{ratio(walls, 'process', 'thread'):.2f}x thread mode, {_rounds(walls['process'])}\n"
        f"  floor (handler called {RUNS:,} times + rows in one transaction) {floor:.2f} s, "
        f"{_rounds(walls['floor'])}; CPU {statistics.median(cpus['floor']):.2f} s"
    )


def ratio(figures: dict[str, list[float]], top: str, bottom: str) -> float:
    """The median of the rounds' ratios (each round's pair measured minutes apart)."""
    return statistics.median(t / b for t, b in zip(figures[top], figures[bottom], strict=True))


def _rounds(values: list[float]) -> str:
    return "rounds " + " / ".join(f"{v:.2f}" for v in values)


def report_memory() -> None:
    """The traced peak for 1, 7 and 28 days: flat when nothing is held per tick."""
    peaks = {
        days: replay_week(Mode.THREAD, timedelta(days=days), trace=True)[1] for days in (1, 7, 28)
    }
    extra_ticks = (28 - 1) * RUNS / 7
    per_tick = (peaks[28] - peaks[1]) / extra_ticks
    shown = ", ".join(f"{days} days {peak / 1e6:.2f} MB" for days, peak in peaks.items())
    print(f"replay memory (traced peak, thread mode): {shown}: {per_tick:.1f} bytes per extra tick")


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


def report_year() -> None:
    for concurrency in (1, 4):
        wall, span, stored, data = replay_year(concurrency)
        print(
            f"replay of 2022 ({data}), --concurrency {concurrency}: {stored} results; "
            f"command {wall:.1f} s ({stored / wall:.0f} invocations/s), "
            f"runs {span:.1f} s ({stored / span:.0f} invocations/s)"
        )


def main(argv: list[str]) -> int:
    parts = argv or ["week", "memory", "year"]
    print(f"replay benchmarks, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if "week" in parts:
        report_week()
    if "memory" in parts:
        report_memory()
    if "year" in parts:
        report_year()
    return 0
