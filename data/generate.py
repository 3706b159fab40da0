"""A deterministic registrations DB with the original schema and timestamp format.

Rows are spread over ``first_day .. last_day`` (UTC): each day gets a share
drawn from a seeded generator, at least one row a day while there are enough
rows, so the default 1,000 rows give 1 to 10 a day. Timestamps are
``YYYY-MM-DD HH:MM:SS.ffffff`` text, weights whole numbers stored as REAL.

The file is written beside its destination and swapped in when complete; an
existing file is replaced only if this generator wrote it (its SQLite
``application_id`` says so), so a real data file is never overwritten.
"""

from __future__ import annotations

import os
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice
from pathlib import Path

SCHEMA = (
    'CREATE TABLE IF NOT EXISTS "registration" ("id" INTEGER NOT NULL, '
    '"timestamp" TEXT NOT NULL, "weight" REAL NOT NULL, PRIMARY KEY("id"))'
)
INDEX = 'CREATE INDEX "registration_timestamp" ON "registration" ("timestamp")'
APPLICATION_ID = 0x4D4A5247  # "MJRG": marks files this generator wrote
MIN_WEIGHT, MAX_WEIGHT = 50, 5000
BATCH = 100_000
MICROSECONDS_PER_DAY = 86_400 * 1_000_000


class GenerateError(ValueError):
    """The generator was asked for something it cannot or must not do."""


@dataclass(frozen=True)
class Spec:
    rows: int = 1000
    first_day: date = date(2021, 12, 22)
    last_day: date = date(2022, 12, 22)
    seed: int = 20221222
    index: bool = False

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def rows_per_day(spec: Spec, rng: random.Random) -> list[int]:
    """How many rows each day gets: proportional to a skewed random weight, summing to ``rows``."""
    weights = [1 + 9 * rng.random() ** 2 for _ in range(spec.days)]
    scale = spec.rows / sum(weights)
    shares = [w * scale for w in weights]
    floor = 1 if spec.rows >= spec.days else 0
    counts = [max(floor, int(share)) for share in shares]
    by_remainder = sorted(range(spec.days), key=lambda d: shares[d] - int(shares[d]), reverse=True)
    by_size = sorted(range(spec.days), key=lambda d: counts[d], reverse=True)
    missing = spec.rows - sum(counts)
    for day in by_remainder if missing > 0 else by_size:
        if missing == 0:
            break
        step = 1 if missing > 0 else -1
        if counts[day] + step >= floor:
            counts[day] += step
            missing -= step
    return counts


def registrations(spec: Spec) -> Iterator[tuple[str, float]]:
    """``(timestamp, weight)`` rows in time order."""
    rng = random.Random(spec.seed)
    for offset, count in enumerate(rows_per_day(spec, rng)):
        day = (spec.first_day + timedelta(days=offset)).isoformat()
        for micros in sorted(rng.randrange(MICROSECONDS_PER_DAY) for _ in range(count)):
            seconds, fraction = divmod(micros, 1_000_000)
            minutes, second = divmod(seconds, 60)
            hour, minute = divmod(minutes, 60)
            weight = float(MIN_WEIGHT + int(rng.random() * (MAX_WEIGHT - MIN_WEIGHT + 1)))
            yield f"{day} {hour:02d}:{minute:02d}:{second:02d}.{fraction:06d}", weight


def write(spec: Spec, out: Path) -> Path:
    """Write the DB for ``spec`` to ``out`` (replacing a file this generator wrote)."""
    if spec.rows < 0:
        raise GenerateError(f"--rows {spec.rows}: must be 0 or more")
    if spec.last_day < spec.first_day:
        raise GenerateError("the last day comes before the first day")
    _refuse_foreign_file(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.name}.{os.getpid()}.part")
    partial.unlink(missing_ok=True)
    try:
        _fill(spec, partial)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def _fill(spec: Spec, path: Path) -> None:
    connection = sqlite3.connect(path)
    try:
        # A fresh file swapped in only when complete: no journal needed.
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        connection.execute(SCHEMA)
        rows = registrations(spec)
        while batch := list(islice(rows, BATCH)):
            connection.executemany(
                'INSERT INTO "registration" ("timestamp", "weight") VALUES (?, ?)', batch
            )
        if spec.index:
            connection.execute(INDEX)
        connection.commit()
    finally:
        connection.close()


def add_index(path: Path) -> None:
    """Add the ``timestamp`` index to a generated file (no-op when present)."""
    _refuse_foreign_file(path)
    connection = sqlite3.connect(path)
    try:
        connection.execute(INDEX.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS"))
        connection.commit()
    finally:
        connection.close()


def _refuse_foreign_file(path: Path) -> None:
    if not path.exists():
        return
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            (app_id,) = connection.execute("PRAGMA application_id").fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        app_id = None
    if app_id != APPLICATION_ID:
        raise GenerateError(
            f"{path} exists and was not written by this generator; "
            "choose another --out or move the file away"
        )
