"""The ledger at scale: runs, list, stats and prune on a million runs, beside a small ledger.

The million-run ledger (20 every-minute functions, ~35 virtual days, each run
with one attempt, its payload and a short log, as ``run`` records them) is
built once with batched inserts of the rows the runtime writes and cached as
``data/bench-ledger-1m.db`` (git-ignored); pass ``--rebuild`` to make it again.
The floor is the same commands on a ledger of 1,000 runs, in the same run.
Each command is timed as a user runs it (a fresh ``localbridge`` process).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench._common import START
from localbridge.instants import format_instant
from localbridge.ledger.store import Ledger

CACHE = Path("data/bench-ledger-1m.db")
FUNCTIONS = 20
LOGS = "START RequestId: x Version: $LATEST\nEND RequestId: x\nREPORT RequestId: x\n"


def build(path: Path, runs: int) -> None:
    """``runs`` finished runs of ``FUNCTIONS`` every-minute functions, oldest first."""
    path.unlink(missing_ok=True)
    Ledger.open(path).close()
    ledger = Ledger.open(path)
    db = ledger._db  # a benchmark's fixture: the rows the runtime writes, written directly
    db.execute("BEGIN IMMEDIATE")
    for first in range(0, runs, 50_000):
        ticks, attempts = [], []
        for n in range(first, min(runs, first + 50_000)):
            at = format_instant(START + timedelta(minutes=n // FUNCTIONS))
            state = "dead" if n % 10_000 == 0 else "succeeded"
            ticks.append((n + 1, f"f{n % FUNCTIONS}", at, state, "schedule", 1, at, at, at))
            attempts.append((n + 1, at, at, "succeeded", '{"count":1}', LOGS))
        db.executemany(
            "INSERT INTO ticks (id, function, scheduled_at, state, source, attempts, "
            "enqueued_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ticks,
        )
        db.executemany(
            "INSERT INTO attempts (tick_id, number, started_at, ended_at, lateness_ms, "
            "duration_ms, outcome, payload, logs) VALUES (?, 1, ?, ?, 0.5, 3.0, ?, ?, ?)",
            attempts,
        )
    last = format_instant(START + timedelta(minutes=(runs - 1) // FUNCTIONS))
    db.executemany(
        "INSERT INTO functions (name, expression, anchor, scheduled_through) VALUES (?, ?, ?, ?)",
        [(f"f{i}", "rate(1 minute)", format_instant(START), last) for i in range(FUNCTIONS)],
    )
    db.execute("COMMIT")
    ledger.close()


def timed(argv: list[str], rounds: int) -> float:
    """The median wall time, in ms, of ``localbridge ARGV`` (which must succeed)."""
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "localbridge", *argv], check=True,
                       capture_output=True)  # fmt: skip
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def ledger_reads_ms(path: Path, rounds: int) -> dict[str, float]:
    """The median time, in ms, of each command's reads of the ledger, in this process.

    The commands' wall times include an interpreter's start (and ``list``'s
    discovery of the app in a subprocess); these are the part that could grow
    with the ledger.
    """
    from localbridge.ledger.pauses import read_paused
    from localbridge.ticks import TickState

    def runs() -> None:
        ledger = Ledger.open(path, check=True)
        for tick in ledger.find(limit=50):
            ledger.attempts(tick.id)
        ledger.close()

    def listing() -> None:
        ledger = Ledger.open(path, check=True)
        ledger.function_marks(), ledger.last_states()
        ledger.close()
        read_paused(path)

    def dead() -> None:
        ledger = Ledger.open(path, check=True)
        for tick in ledger.find(state=TickState.DEAD):
            ledger.attempts(tick.id)
        ledger.close()

    medians = {}
    for name, reads in (("runs", runs), ("list", listing), ("dlq list", dead)):
        samples = []
        for _ in range(rounds):
            began = time.perf_counter()
            reads()
            samples.append((time.perf_counter() - began) * 1000)
        medians[name] = statistics.median(samples)
    return medians


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ledger_scale", description=__doc__)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)
    if args.rebuild or not CACHE.exists():
        began = time.perf_counter()
        build(CACHE, args.runs)
        print(f"built {args.runs:,} runs in {time.perf_counter() - began:.1f} s: {CACHE}")
    with tempfile.TemporaryDirectory() as scratch:
        small = Path(scratch) / "small.db"
        build(small, 1_000)
        big = Path(scratch) / "big.db"
        shutil.copyfile(CACHE, big)
        print(f"load average: {Path('/proc/loadavg').read_text().split()[:3]}")
        print(f"{'command':<40}{'1,000 runs':>12}{'1M runs':>12}{'ratio':>8}")
        for command in (["runs"], ["runs", "f3"], ["dlq", "list"], ["list"], ["stats"]):
            floor = timed([*command, "--ledger", str(small)], args.rounds)
            large = timed([*command, "--ledger", str(big)], args.rounds)
            name = " ".join(command)
            print(f"{name:<40}{floor:>10.0f}ms{large:>10.0f}ms{large / floor:>8.2f}")
        floor_reads, large_reads = (
            ledger_reads_ms(small, args.rounds),
            ledger_reads_ms(big, args.rounds),
        )
        for name, floor in floor_reads.items():
            large = large_reads[name]
            print(f"{name + ' (ledger reads only)':<40}{floor:>10.1f}ms{large:>10.1f}ms"
                  f"{large / floor:>8.2f}")  # fmt: skip
        before = (START + timedelta(days=7)).isoformat()
        prune_ms = timed(["prune", "--before", before, "--ledger", str(big)], 1)
        print(f"prune a week of runs (201,600) from the 1M ledger: {prune_ms:.0f} ms")
    return 0
