"""The console's pages over a ledger of a million runs.

``python -m bench console_scale [RUNS] [--ledger PATH]`` (default 1,000,000
runs; the ledger is built once at PATH, by default in the temporary folder,
and reused by later rounds of the same size).

The ledger holds 20 ``rate(1 minute)`` functions with RUNS ticks between
them, each with its scheduled event and one finished attempt (every 50th dead, the rest succeeded),
written in batches through the ledger's own API (``add_ticks``,
``begin_attempts``, ``finish_attempts``). Each page is answered by the
console's request core (``Console.get``, as the HTTP server calls it) over
``localbridge console``'s source: ``/``, ``/runs`` (first page, an older page,
filtered by function and by state), a function's page and a run's page, with
their JSON twins. Printed per page: the median and the worst of the rounds,
beside a small ledger of 2,000 runs in the same run (the floor: what the page
costs when the ledger's size costs nothing), and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.clock import ManualClock
from localbridge.console.service import open_console
from localbridge.console.sources import LedgerSource
from localbridge.events import AwsIdentity, make_event_factory
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec, InvocationResult, Outcome
from localbridge.runtime.firing import scheduled_tick
from localbridge.ticks import AttemptEnd, FunctionMark, TickState

START = datetime(2022, 1, 1, tzinfo=UTC)
FUNCTIONS = 20
BATCH = 20_000
ROUNDS = 7
SMALL = 2_000


def build(path: Path, runs: int) -> None:
    """``runs`` finished ticks, oldest first, in batches of ``BATCH``."""
    ledger = Ledger.open(path)
    try:
        names = [f"job_{i:02d}" for i in range(FUNCTIONS)]
        minutes = runs // FUNCTIONS
        end = START + timedelta(minutes=minutes)
        ledger.save_function_marks(FunctionMark(n, "rate(1 minute)", START, end) for n in names)
        for first in range(0, minutes, BATCH // FUNCTIONS):
            at = [
                START + timedelta(minutes=m + 1)
                for m in range(first, min(minutes, first + BATCH // FUNCTIONS))
            ]
            _batch(ledger, names, at)
    finally:
        ledger.close()


def _batch(ledger: Ledger, names: list[str], instants: list[datetime]) -> None:
    # Each with its scheduled event, as the runtime records every scheduled tick.
    build = make_event_factory(AwsIdentity())
    specs = {n: FunctionSpec(n, f"jobs.{n}", "rate(1 minute)", "bench", "local") for n in names}
    new = [scheduled_tick(specs[n], t, build) for t in instants for n in names]
    ticks = ledger.add_ticks(new, instants[-1])
    numbers = ledger.begin_attempts(ticks, instants[-1], [1.0] * len(ticks))
    finished = []
    for tick, number in zip(ticks, numbers, strict=True):
        dead = tick.id % 50 == 0
        began = tick.scheduled_at.timestamp()
        result = InvocationResult(
            Outcome.ERROR if dead else Outcome.SUCCEEDED, began, began + 0.007,
            None if dead else {"metric": "m", "value": tick.id},
            "RuntimeError" if dead else None, "failed" if dead else None,
            logs="START RequestId: x\nprinted a line\nEND RequestId: x\n",
        )  # fmt: skip
        state = TickState.DEAD if dead else TickState.SUCCEEDED
        finished.append((tick.id, number, AttemptEnd(result, tick.scheduled_at, state)))
    ledger.finish_attempts(finished)


# What the pages' keyset queries rely on: ticks by (function, id) and by
# (state, id); attempts by tick is the attempts table's primary key.
WANTED_INDEXES = {("function", "id"): "ticks (function, id)", ("state", "id"): "ticks (state, id)"}


def ensure_indexes(path: Path) -> list[str]:
    """Add what the ledger's schema lacks of ``WANTED_INDEXES``; names those added."""
    db = sqlite3.connect(path)
    try:
        present: set[tuple[str, ...]] = set()
        for index in db.execute("PRAGMA index_list(ticks)").fetchall():
            info = db.execute(f"PRAGMA index_info({index[1]!r})").fetchall()
            present.add(tuple(str(column[2]) for column in info))
        added = []
        for wanted, label in WANTED_INDEXES.items():
            if wanted not in present:
                name = "bench_ticks_by_" + "_".join(wanted)
                db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON ticks ({', '.join(wanted)})")
                added.append(label)
        db.commit()
        return added
    finally:
        db.close()


def ledger_of(path: Path | None, runs: int) -> Path:
    target = path or Path(tempfile.gettempdir()) / f"localbridge-console-scale-{runs}.db"
    if not target.exists():
        began = time.perf_counter()
        build(target, runs)
        size = target.stat().st_size / 2**20
        took = time.perf_counter() - began
        print(f"built {runs:,} runs in {took:.1f} s ({size:,.0f} MiB): {target}")
    added = ensure_indexes(target)
    if added:
        print(f"{target.name}: the ledger's schema lacks {', '.join(added)}; added for this run")
    return target


def pages(ledger: Path) -> dict[str, float]:
    """The median milliseconds of each page over ``ROUNDS`` rounds."""
    clock = ManualClock(START + timedelta(days=400))
    console, close = open_console(ledger, lambda reader: LedgerSource(reader, clock), None)
    try:
        newest = console.get("/runs.json", {}).body
        older = _field(newest, "older_before_id")
        paths = {
            "/": {}, "/index.json": {}, "/runs": {}, "/runs.json": {},
            "/runs (older page)": {"before_id": [older]},
            "/runs?function=job_07": {"function": ["job_07"]},
            "/runs?state=dead": {"state": ["dead"]},
            "/functions/job_07": {}, "/runs/<id>": {}, "/dlq": {},
        }  # fmt: skip
        timings: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(ROUNDS):
            for name, query in paths.items():
                path = name.split(" ")[0].split("?")[0]
                if path == "/runs/<id>":
                    path = f"/runs/{older}"
                began = time.perf_counter()
                answer = console.get(path, query)
                timings[name].append((time.perf_counter() - began) * 1000)
                assert answer.status == 200, (name, answer.status, answer.body[:300])
        return {name: statistics.median(t) for name, t in timings.items()} | {
            f"{name} worst": max(t) for name, t in timings.items()
        }
    finally:
        close()


def _field(body: bytes, name: str) -> str:
    return str(json.loads(body)[name])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench console_scale")
    parser.add_argument("runs", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--ledger", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        small = ledger_of(Path(folder) / "small.db", SMALL)
        big = ledger_of(args.ledger, args.runs)
        floor, scaled = pages(small), pages(big)
    print("load average: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    print(f"{'page':28} {SMALL:>10,} runs {args.runs:>12,} runs   worst   ratio")
    for name in floor:
        if name.endswith(" worst"):
            continue
        ratio = scaled[name] / floor[name] if floor[name] else float("nan")
        print(
            f"{name:28} {floor[name]:10.1f} ms {scaled[name]:12.1f} ms "
            f"{scaled[name + ' worst']:7.1f} {ratio:7.1f}x"
        )
    slow = [n for n in floor if not n.endswith(" worst") and scaled[n] >= 300]
    if slow:
        print(f"over 300 ms at {args.runs:,} runs: {', '.join(slow)}")
    return 0
