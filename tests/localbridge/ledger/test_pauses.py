"""Paused functions in the ledger, and the runtime's once-a-second view of them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from localbridge.ledger.pauses import PauseStore, read_paused
from localbridge.ledger.store import Ledger
from localbridge.runtime.pausing import PauseCheck

NOW = datetime(2022, 12, 19, tzinfo=UTC)


def test_pauses_hold_across_connections_and_report_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = PauseStore.open(path)
    assert store.pause(["a", "b"], NOW) == ["a", "b"]
    assert store.pause(["a"], NOW) == []
    store.close()
    assert read_paused(path) == {"a", "b"}
    again = PauseStore.open(path)
    assert again.paused() == {"a": NOW, "b": NOW}
    assert again.resume(["a", "c"]) == ["a"]
    again.close()
    assert read_paused(path) == {"b"}


def test_a_version_1_ledger_is_migrated_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    from localbridge.ledger.schema import MIGRATIONS

    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
        db.execute("INSERT INTO functions VALUES ('a', 'rate(1 minute)', 'x', 'y')")
    Ledger.open(path).close()
    assert read_paused(path) == frozenset()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM functions").fetchall() == [("a",)]
        assert db.execute("SELECT logs FROM attempts").fetchall() == []


def test_the_check_rereads_the_ledger_once_its_copy_is_a_second_old(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger.open(path).close()
    now = [100.0]
    check = PauseCheck(path, max_age=1.0, monotonic=lambda: now[0])
    assert not check.is_paused("a")
    store = PauseStore.open(path)  # another process's `localbridge pause a`
    store.pause(["a"], NOW)
    now[0] += 0.5
    assert not check.is_paused("a")  # its copy is half a second old
    now[0] += 0.5
    assert check.is_paused("a")
    store.resume(["a"])
    assert check.refresh() == frozenset()  # told in-process: at once
    store.close()


def test_an_in_memory_ledger_has_nothing_paused() -> None:
    # A second connection to ":memory:" is a new, empty database: reading the
    # table there would fail, and no other process can pause through it.
    ledger = Ledger.open(Path(":memory:"))
    try:
        assert read_paused(Path(":memory:")) == frozenset()
        assert not PauseCheck(Path(":memory:")).is_paused("a")
    finally:
        ledger.close()
