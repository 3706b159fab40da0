"""``bench startup``: how long until ``localbridge list`` answers and ``run`` fires.

Each figure beside its floor, measured in the same run: one interpreter
importing the app and localbridge's command line.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_command(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - began


def first_tick_after_start(env: dict[str, str]) -> float:
    """Seconds from spawning ``run`` (thread mode) to the first attempt's row in the ledger."""
    for _ in range(5):
        seconds = first_tick_or_none(env)
        if seconds is not None:
            return seconds
    raise RuntimeError("run fired nothing in 5 tries")


def first_tick_or_none(env: dict[str, str]) -> float | None:
    """``first_tick_after_start`` once; None when the instant passed before ``run`` was up.

    The virtual clock starts 1 ms before ``registrations_per_day`` is due, so
    the first tick is due as soon as ``run`` can fire it; when the clock has
    passed it before the rule is registered, the rule is new and nothing fires.
    """
    with tempfile.TemporaryDirectory() as scratch:
        ledger_path = Path(scratch) / "ledger.db"
        command = [
            sys.executable, "-m", "localbridge", "run", "--project", str(ROOT), "--mode",
            "thread", "--ledger", str(ledger_path), "--clock-start", "2022-12-19T00:04:59.999Z",
            "--port", "0", "--console-port", "0", "--env", "RESULTS_API_URL=http://127.0.0.1:9",
        ]  # fmt: skip
        began = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            if not wait_until(lambda: attempt_recorded(ledger_path), 15, poll=0.005):
                return None
            return time.perf_counter() - began
        finally:
            process.terminate()
            process.wait(10)


def attempt_recorded(ledger_path: Path) -> bool:
    if not ledger_path.exists():
        return False
    try:
        with sqlite3.connect(ledger_path, timeout=0.1) as db:
            count: int = db.execute("SELECT count(*) FROM attempts").fetchone()[0]
            return count > 0
    except sqlite3.Error:
        return False  # not created yet


def report_start(rounds: int = 5) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # Measured as any start after the first: with the modules' bytecode cached.
    # uv installs without compiling it, and with PYTHONDONTWRITEBYTECODE set
    # every start would compile the app, localbridge and their dependencies
    # (about 2x slower here); the untimed round below writes the caches.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    listing = [sys.executable, "-m", "localbridge", "list", "--project", str(ROOT)]
    # The floor: one interpreter importing the app and localbridge's command line.
    floor = [sys.executable, "-c", "import localbridge.cli.main, app"]
    timed_command(listing, env)
    timed_command(floor, env)
    first_tick_after_start(env)
    lists, floors, firsts = [], [], []
    for _ in range(rounds):
        lists.append(timed_command(listing, env))
        floors.append(timed_command(floor, env))
        firsts.append(first_tick_after_start(env))
    print(
        f"start (median of {rounds}): `localbridge list` {statistics.median(lists) * 1000:.0f} ms, "
        f"first tick after `run` starts {statistics.median(firsts) * 1000:.0f} ms; floor (one "
        f"interpreter importing the app and localbridge) {statistics.median(floors) * 1000:.0f} ms"
    )


def wait_until(condition: Callable[[], bool], timeout: float, poll: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll)  # polling interval while a server starts
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str]) -> int:
    """``python -m bench startup``: ``make bench`` runs every public module's ``main``."""
    report_start()
    return 0
