"""The ledger's writes for one lone invocation: record the tick, open the attempt, close it.

``python -m bench ledger``: three commits per invocation on a file on disk
(WAL), median over 5 rounds of 2,000 invocations.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

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
    print(f"the ledger, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"ledger writes per invocation (file, WAL): {ledger_overhead() * 1000:.0f} us")
    return 0
