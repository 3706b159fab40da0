"""The jobs' queries on a large registrations file, against the best plain sqlite3 query.

``python -m bench jobs [--rows N] [--repeat K]`` generates (once, cached under
``data/``) a file of N rows and a copy with an index on ``timestamp``, then for
each job times its query through the job code (``functions._registrations``)
and every plain query that gives the same answer, and prints medians of wall
and CPU time and the ratio to the fastest plain query. The machine may be busy
with other work: CPU time of the measuring thread is the steadier figure.
Target: within 1.2x of the fastest plain query, and well under 100 ms with the
index.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data.generate import Spec, add_index, write
from functions._periods import Period, previous_day, previous_iso_week
from functions._registrations import Registrations, open_registrations

WEEK_EVENT = "2022-12-19T01:00:00Z"
DAY_EVENT = "2022-12-22T00:05:00Z"

# Plain queries giving each job's answer; the fastest is the yardstick.
PLAIN_WEEK = {
    "range": "SELECT count(*), avg(weight) FROM registration"
    " WHERE timestamp >= ? AND timestamp < ?",
    "date()": "SELECT count(*), avg(weight) FROM registration"
    " WHERE date(timestamp) >= ? AND date(timestamp) < ?",
    "substr()": "SELECT count(*), avg(weight) FROM registration"
    " WHERE substr(timestamp, 1, 10) >= ? AND substr(timestamp, 1, 10) < ?",
}
PLAIN_DAY = {
    name: sql.replace("count(*), avg(weight)", "count(*)") for name, sql in PLAIN_WEEK.items()
}


Query = Callable[[], tuple[object, ...]]


@dataclass(frozen=True)
class Timing:
    label: str
    wall_ms: float
    cpu_ms: float
    """CPU time of this thread: what the query itself costs, whatever else the machine runs."""
    answer: tuple[object, ...]


def interleaved(queries: dict[str, Query], rounds: int) -> list[Timing]:
    """Median wall and CPU time of each query, run in turn each round.

    Taking turns spreads the load of a busy machine evenly over the queries
    compared, which back-to-back blocks would not.
    """
    answers = {label: query() for label, query in queries.items()}  # warms the page cache
    wall: dict[str, list[float]] = {label: [] for label in queries}
    cpu: dict[str, list[float]] = {label: [] for label in queries}
    for _ in range(rounds):
        for label, query in queries.items():
            wall_start, cpu_start = time.perf_counter(), time.thread_time()
            query()
            cpu[label].append(time.thread_time() - cpu_start)
            wall[label].append(time.perf_counter() - wall_start)
    return [
        Timing(
            label,
            statistics.median(wall[label]) * 1000,
            statistics.median(cpu[label]) * 1000,
            answers[label],
        )
        for label in queries
    ]


def plain_runner(connection: sqlite3.Connection, sql: str, params: tuple[str, str]) -> Query:
    def run() -> tuple[object, ...]:
        row: tuple[object, ...] = connection.execute(sql, params).fetchone()
        return row

    return run


def bench_job(
    connection: sqlite3.Connection, job: Query, period: Period, plain: dict[str, str], rounds: int
) -> None:
    """Survey the plain queries with the job's, then time the job against the fastest."""
    params = (period.start, period.end)
    candidates = {
        f"plain {name}": plain_runner(connection, sql, params) for name, sql in plain.items()
    }
    survey = interleaved({"job code": job, **candidates}, rounds)
    if len({timing.answer for timing in survey}) != 1:
        raise AssertionError(f"the queries disagree: {survey}")
    best = min(survey[1:], key=lambda timing: timing.cpu_ms)
    duel_rounds = rounds if best.wall_ms > 200 else max(rounds, 31)
    duel = interleaved({"job code": job, best.label: candidates[best.label]}, duel_rounds)
    print(f"  answer {survey[0].answer}; medians of wall / CPU time:")
    for timing in survey[1:]:
        print(
            f"  {timing.label:<16} {timing.wall_ms:9.2f} / {timing.cpu_ms:9.2f} ms  ({rounds} runs)"
        )
    for timing in duel:
        print(
            f"  {timing.label:<16} {timing.wall_ms:9.2f} / {timing.cpu_ms:9.2f} ms"
            f"  ({duel_rounds} runs, taking turns)"
        )
    job_timing, best_timing = duel
    print(
        f"  ratio job / fastest plain: {job_timing.cpu_ms / best_timing.cpu_ms:.2f}x CPU, "
        f"{job_timing.wall_ms / best_timing.wall_ms:.2f}x wall",
        flush=True,
    )


def bench_files(rows: int, cache_dir: Path) -> tuple[Path, Path]:
    """The cached plain and indexed files for ``rows`` rows, generated when missing."""
    plain = cache_dir / f"bench-registrations-{rows}.db"
    indexed = cache_dir / f"bench-registrations-{rows}-indexed.db"
    if not _complete(plain, rows):
        print(f"generating {plain} ({rows} rows, once) ...", flush=True)
        write(Spec(rows=rows), plain)
    if not _complete(indexed, rows):
        print(f"copying it to {indexed} and indexing timestamp ...", flush=True)
        shutil.copyfile(plain, indexed)
        add_index(indexed)
    return plain, indexed


def _complete(path: Path, rows: int) -> bool:
    """True when ``path`` is a finished generated file of ``rows`` rows."""
    if not path.is_file():
        return False
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        (last_id,) = connection.execute("SELECT max(id) FROM registration").fetchone()
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    return bool(last_id == rows)


def opening_ms(path: Path, cache_dir: Path, rounds: int = 31) -> float:
    """What each run pays before its query: opening the DB read-only and checking its table."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        with open_registrations(str(path), cache_dir):
            pass
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench jobs", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=Path("data"))
    args = parser.parse_args(argv)

    week, day = previous_iso_week(WEEK_EVENT), previous_day(DAY_EVENT)
    for path in bench_files(args.rows, args.cache_dir):
        print(f"== {path.name}", flush=True)
        print(f"  open read-only + table check: {opening_ms(path, args.cache_dir):.2f} ms (median)")
        with open_registrations(str(path), args.cache_dir) as db:

            def summary(period: Period = week, db: Registrations = db) -> tuple[object, ...]:
                found = db.weight_summary(period)
                return (found.count, found.mean)

            def count(period: Period = day, db: Registrations = db) -> tuple[object, ...]:
                return (db.count(period),)

            print(f"average_weight_last_week {week.week_label}")
            bench_job(db.connection, summary, week, PLAIN_WEEK, args.repeat)
            print(f"registrations_per_day {day.first_day}")
            bench_job(db.connection, count, day, PLAIN_DAY, args.repeat)
    return 0
