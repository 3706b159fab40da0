"""localbridge's runtime: ledger overhead, a week's and a year's replay, start.

``python -m bench runtime [lateness] [burst] [ledger] [week] [start] [replay]`` (default: all).

- lateness, burst (or ``fanout``): the live firing path, now ``python -m bench
  live`` (beside their floors); named here, they run there (one round).
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
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import requests

from bench import live, startup
from bench._common import STAMP_APP, START, write_project
from bench.startup import free_port, wait_until
from localbridge.clock import SystemClock
from localbridge.instants import format_instant
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec, InvocationResult, Outcome
from localbridge.runtime.assemble import Mode, make_invoker, make_runtime, warm
from localbridge.runtime.replay import replay
from localbridge.ticks import AttemptEnd, NewTick, TickSource, TickState

ROOT = Path(__file__).resolve().parents[1]
ORIGINAL_DB = ROOT.parent / "shared" / "data" / "registration.sqlite"

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
    # lateness and the burst are ``bench live``'s (``make bench`` runs it); named
    # here, they are passed on to it.
    parts = argv or ["ledger", "week", "start", "replay"]
    print(
        f"localbridge runtime benchmarks, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    live_parts = [p for p in parts if p in ("lateness", "burst", "fanout")]
    if live_parts:
        live.main(["burst" if p == "fanout" else p for p in live_parts] + ["--rounds", "1"])
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
