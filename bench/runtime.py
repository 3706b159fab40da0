"""localbridge's runtime: ledger overhead and start; the others named here run elsewhere.

``python -m bench runtime [lateness] [burst] [ledger] [week] [start] [replay]``
(default: ledger; ``make bench`` runs ``startup``, ``live`` and ``replay`` on their own).

- lateness, burst (or ``fanout``): the live firing path, ``python -m bench live``
  (beside their floors); named here, they run there (one round).
- ledger: the ledger writes of one invocation (record the tick, open the
  attempt, close it) on a file on disk.
- week, replay: ``python -m bench replay``'s week (with memory) and year.
- start: ``localbridge list`` on the shipped project, and the first tick of
  ``run`` (thread mode, a virtual clock 1 ms before a fire instant) from
  spawning it to the attempt's row in the ledger, beside the floor: one
  interpreter importing the app and localbridge's command line.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench import live, startup
from bench._common import START
from localbridge.ledger.store import Ledger
from localbridge.model import InvocationResult, Outcome
from localbridge.ticks import AttemptEnd, NewTick, TickSource, TickState


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


def main(argv: list[str]) -> int:
    parts = argv or ["ledger"]
    print(
        f"localbridge runtime benchmarks, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    live_parts = [p for p in parts if p in ("lateness", "burst", "fanout")]
    if live_parts:
        live.main(["burst" if p == "fanout" else p for p in live_parts] + ["--rounds", "1"])
    if "ledger" in parts:
        print(f"ledger writes per invocation (file, WAL): {ledger_overhead() * 1000:.0f} us")
    if "start" in parts:
        startup.report_start()
    from bench import replay  # the replay figures are ``bench.replay``'s own

    if "week" in parts:
        replay.report_week()
        replay.report_memory()
    if "replay" in parts:
        replay.report_year()
    return 0
