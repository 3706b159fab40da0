"""Read-only access to the registrations DB."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from functions._periods import Period
from functions._registrations import open_registrations
from tests.jobs.support import write_registrations


def test_connection_is_read_only(tmp_path: Path) -> None:
    db = write_registrations(tmp_path / "r.db", [("2022-12-12 00:00:00.000000", 5.0)])
    before = db.read_bytes()
    with open_registrations(str(db), tmp_path) as registrations:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            registrations.connection.execute("DELETE FROM registration")
        assert registrations.count(Period(date(2022, 12, 12), date(2022, 12, 12))) == 1
    assert db.read_bytes() == before


def test_the_job_queries_are_served_by_a_timestamp_index(tmp_path: Path) -> None:
    db = write_registrations(tmp_path / "r.db", [])
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE INDEX by_time ON registration (timestamp)")
    connection.close()
    week = Period(date(2022, 12, 12), date(2022, 12, 18))
    statements: list[str] = []
    with open_registrations(str(db), tmp_path) as registrations:
        registrations.connection.set_trace_callback(statements.append)
        registrations.count(week)
        registrations.weight_summary(week)
        registrations.connection.set_trace_callback(None)
        plans = [
            str(registrations.connection.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
            for sql in statements
        ]
    assert len(plans) == 2
    for plan in plans:
        assert "INDEX by_time (timestamp>? AND timestamp<?)" in plan
