"""The ledger's reads use an index, so their cost does not grow with the ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from localbridge.ledger.store import Ledger

PAGES = [
    ("SELECT id FROM ticks WHERE id < ? ORDER BY id DESC LIMIT 50", (10,), "PRIMARY KEY"),
    (
        "SELECT id FROM ticks WHERE function = ? AND id < ? ORDER BY id DESC LIMIT 50",
        ("daily", 10),
        "ticks_by_function_id",
    ),
    (
        "SELECT id FROM ticks WHERE state = ? AND id < ? ORDER BY id DESC LIMIT 50",
        ("dead", 10),
        "ticks_by_state_id",
    ),
    (
        "SELECT id FROM ticks ORDER BY scheduled_at DESC, id DESC LIMIT 50",
        (),
        "ticks_by_scheduled",
    ),
    ("SELECT * FROM attempts WHERE tick_id = ?", (1,), "sqlite_autoindex_attempts_1"),
]


@pytest.mark.parametrize(("sql", "params", "index"), PAGES)
def test_each_page_of_runs_reads_through_an_index_without_sorting(
    tmp_path: Path, sql: str, params: tuple[object, ...], index: str
) -> None:
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert index in plan
    assert "TEMP B-TREE" not in plan
    assert "SCAN ticks" not in plan or "USING" in plan


def test_a_new_ledger_gives_freed_pages_back_in_steps(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental


def test_pruning_walks_the_scheduled_time_index_instead_of_sorting_every_finished_run(
    tmp_path: Path,
) -> None:
    from localbridge.ledger.pruning import _PRUNABLE

    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    sql = f"SELECT id FROM ticks WHERE {_PRUNABLE} ORDER BY scheduled_at LIMIT 500"
    with sqlite3.connect(path) as db:
        plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", ("2022",)))
    assert "ticks_by_scheduled" in plan
    assert "TEMP B-TREE" not in plan
