"""Read-only queries on the registrations DB.

The DB is opened with a ``mode=ro`` URI, so a job can never change it. Periods
are half-open text ranges on ``timestamp`` (see ``_periods``): no function wraps
the column, so an index on it serves every query.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions._errors import RegistrationsError
from functions._periods import Period
from functions._source import local_path


@dataclass(frozen=True)
class WeightSummary:
    count: int
    mean: float | None
    """Unrounded mean weight; ``None`` when the period has no rows."""


@dataclass(frozen=True)
class Registrations:
    """Queries on one open, read-only connection."""

    connection: sqlite3.Connection
    location: str

    def count(self, period: Period) -> int:
        row = self._one(
            "SELECT count(*) FROM registration WHERE timestamp >= ? AND timestamp < ?",
            period,
        )
        return int(row[0])

    def weight_summary(self, period: Period) -> WeightSummary:
        row = self._one(
            "SELECT count(*), avg(weight) FROM registration WHERE timestamp >= ? AND timestamp < ?",
            period,
        )
        return WeightSummary(int(row[0]), None if row[1] is None else float(row[1]))

    def _one(self, sql: str, period: Period) -> tuple[Any, ...]:
        try:
            row: tuple[Any, ...] = self.connection.execute(
                sql, (period.start, period.end)
            ).fetchone()
        except sqlite3.Error as exc:
            raise RegistrationsError(f"registrations DB {self.location}: {exc}") from exc
        return row


@contextmanager
def open_registrations(location: str, cache_dir: Path) -> Iterator[Registrations]:
    """Open the DB named by ``location`` (path or s3:// URI) read-only and check its table."""
    path = local_path(location, cache_dir)
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RegistrationsError(f"registrations DB {location}: cannot open it ({exc})") from exc
    with closing(connection):
        _check_table(connection, location)
        yield Registrations(connection, location)


def _check_table(connection: sqlite3.Connection, location: str) -> None:
    try:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'registration'"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise RegistrationsError(
            f"registrations DB {location}: not a readable SQLite database ({exc}); "
            "point REGISTRATIONS_DB at the registrations file"
        ) from exc
    if found is None:
        raise RegistrationsError(
            f"registrations DB {location}: it has no 'registration' table; "
            "point REGISTRATIONS_DB at the registrations file (make data writes one)"
        )
