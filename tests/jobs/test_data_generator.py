"""``python -m data``: deterministic, the original's schema and format, safe to rerun."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from data.generate import GenerateError, Spec, add_index, write
from tests.support import ROOT, python_env

STORED = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}")


def rows(path: Path) -> list[tuple[int, str, float]]:
    with sqlite3.connect(path) as connection:
        found = connection.execute("SELECT id, timestamp, weight FROM registration").fetchall()
    connection.close()
    return found


def schema(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as connection:
        found = connection.execute("SELECT type, sql FROM sqlite_master ORDER BY name").fetchall()
    connection.close()
    return found


def test_default_file_has_about_1000_rows_1_to_10_a_day_over_the_year(tmp_path: Path) -> None:
    generated = rows(write(Spec(), tmp_path / "r.db"))
    per_day = Counter(date.fromisoformat(ts[:10]) for _, ts, _ in generated)

    assert len(generated) == 1000
    first, last = date(2021, 12, 22), date(2022, 12, 22)
    assert sorted(per_day) == [first + timedelta(days=n) for n in range((last - first).days + 1)]
    assert min(per_day.values()) >= 1
    assert max(per_day.values()) <= 10
    assert all(STORED.fullmatch(ts) for _, ts, _ in generated)
    weights = [w for _, _, w in generated]
    assert all(w == int(w) and 50 <= w <= 5000 for w in weights)
    assert max(weights) - min(weights) > 4000


def test_same_seed_same_rows_other_seed_other_rows(tmp_path: Path) -> None:
    first = rows(write(Spec(), tmp_path / "a.db"))
    again = rows(write(Spec(), tmp_path / "b.db"))
    other = rows(write(Spec(seed=7), tmp_path / "c.db"))
    assert first == again
    assert first != other


def test_schema_matches_the_original(tmp_path: Path, original_db: Path) -> None:
    assert schema(write(Spec(), tmp_path / "r.db")) == schema(original_db)


@pytest.mark.parametrize("count", [0, 10, 365, 366, 367, 5000])
def test_row_count_is_exact(tmp_path: Path, count: int) -> None:
    assert len(rows(write(Spec(rows=count), tmp_path / "r.db"))) == count


def test_index_option_and_add_index(tmp_path: Path) -> None:
    indexed = write(Spec(index=True), tmp_path / "i.db")
    plain = write(Spec(), tmp_path / "p.db")
    add_index(plain)
    for path in (indexed, plain):
        with sqlite3.connect(path) as connection:
            plan = connection.execute(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM registration"
                " WHERE timestamp >= '2022-12-12' AND timestamp < '2022-12-19'"
            ).fetchall()
        connection.close()
        assert "USING COVERING INDEX registration_timestamp" in str(plan)


def test_rerun_replaces_its_own_file_but_never_a_foreign_one(tmp_path: Path) -> None:
    out = write(Spec(rows=10), tmp_path / "r.db")
    write(Spec(rows=20), out)
    assert len(rows(out)) == 20

    foreign = tmp_path / "precious.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE registration (id INTEGER PRIMARY KEY)")
    connection.close()
    before = foreign.read_bytes()
    with pytest.raises(GenerateError, match=r"precious\.db exists and was not written by"):
        write(Spec(), foreign)
    assert foreign.read_bytes() == before


def test_command_line(tmp_path: Path) -> None:
    out = tmp_path / "cli.db"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "data",
            "--out",
            str(out),
            "--rows",
            "1234",
            "--seed",
            "3",
            "--index",
        ],
        cwd=ROOT,
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote 1234 registrations to {out}" in done.stdout
    assert rows(out) == rows(write(Spec(rows=1234, seed=3), tmp_path / "same.db"))
    assert any(kind == "index" for kind, _ in schema(out))
