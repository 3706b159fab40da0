"""The SQLite store on its own: migrations, journal mode, idempotent adds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from api.records import NewResult
from api.storage import MIGRATIONS, SCHEMA_VERSION, ResultStore, StoreError


def new(key: str | None = "k", digest: str = "d1", body: str = '{"a":1}') -> NewResult:
    return NewResult("2022-12-21T00:05:00.000000Z", key, digest, "m", body)


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def test_open_creates_the_file_and_its_folder_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "results.db"

    store = ResultStore.open(path)
    state = store.state()
    store.close()

    assert path.is_file()
    assert (state.journal_mode, state.schema_version, state.results) == ("wal", SCHEMA_VERSION, 0)
    assert user_version(path) == len(MIGRATIONS)


def test_reopening_keeps_rows_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "results.db"
    store = ResultStore.open(path)
    store.add(new())
    store.close()

    reopened = ResultStore.open(path)
    rows = reopened.page(0, 10, None)
    reopened.close()

    assert [r.body for r in rows] == ['{"a":1}']


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StoreError, match="newer than this API knows"):
        ResultStore.open(path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.db"
    path.write_bytes(b"this is not a database, just text long enough" * 100)

    with pytest.raises(StoreError, match="cannot use results database"):
        ResultStore.open(path)


def test_a_folder_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open results database"):
        ResultStore.open(tmp_path)


def test_add_returns_the_original_under_a_taken_key(tmp_path: Path) -> None:
    store = ResultStore.open(tmp_path / "results.db")
    first = store.add(new(digest="d1"))
    again = store.add(new(digest="d2", body='{"a":2}'))
    state = store.state()
    store.close()

    assert (first.created, again.created) == (True, False)
    assert again.result == first.result
    assert again.body_digest == "d1"
    assert state.results == 1


def test_two_stores_on_one_file_keep_one_row_per_key(tmp_path: Path) -> None:
    path = tmp_path / "results.db"
    one, two = ResultStore.open(path), ResultStore.open(path)
    added = [one.add(new()), two.add(new()), two.add(new(key=None)), one.add(new(key=None))]
    count = one.state().results
    one.close()
    two.close()

    assert [a.created for a in added] == [True, False, True, True]
    assert count == 3


def test_a_version_1_file_migrates_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "results.db"
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO result VALUES (7, '2022-12-21T00:05:00.000000Z', 'k', 'd1', 'm', '{}')"
        )
        conn.execute("PRAGMA user_version = 1")
    conn.close()

    store = ResultStore.open(path)
    kept = store.page(0, 10)
    added = store.add(new(key="k2"))
    store.close()

    assert [(r.id, r.idempotency_key) for r in kept] == [(7, "k")]
    assert added.result.id == 8
    assert user_version(path) == SCHEMA_VERSION


def test_the_id_of_a_deleted_newest_result_is_never_given_again(tmp_path: Path) -> None:
    store = ResultStore.open(tmp_path / "results.db")
    first = store.add(new(key="a")).result.id
    newest = store.add(new(key="b")).result.id

    assert store.delete(newest) is True
    assert store.delete(newest) is False
    again = store.add(new(key="b")).result.id
    store.close()

    assert (first, newest, again) == (1, 2, 3)


@pytest.mark.parametrize("stored_key", [None, "b"], ids=["all keys new", "a key stored"])
def test_a_batch_gets_the_ids_it_is_stored_under(tmp_path: Path, stored_key: str | None) -> None:
    """One statement for new keys, one transaction otherwise: the ids given back are the rows'."""
    store = ResultStore.open(tmp_path / "results.db")
    store.delete(store.add(new(key="z")).result.id)  # AUTOINCREMENT: id 1 is never given again
    if stored_key is not None:
        store.add(new(key=stored_key, body='{"old":1}'))
    batch = [new(key="a"), new(key=None), new(key="b"), new(key="a"), new(key=None)]
    added = store.add_many(batch)
    stored = {row.id: row for row in store.page(0, 100)}
    store.close()

    for one, posted in zip(added, batch, strict=True):
        assert stored[one.result.id] == one.result
        assert one.result.idempotency_key == posted.idempotency_key
    assert added[3].result == added[0].result
    assert not added[3].created
    assert len({one.result.id for one in added}) == 4
    assert all(one.result.id > 1 for one in added)
    assert added[2].created is (stored_key is None)
