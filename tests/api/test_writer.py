"""Group commit: concurrent posts share transactions, each still answered on its own."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.errors import ApiError
from api.service import Posted, ResultService
from api.storage import Added, NewResult, ResultStore, StoreError
from tests.api.conftest import StepClock


class CountingStore(ResultStore):
    """The real store, also noting how many results each commit held."""

    batches: list[int]

    def add_many(self, batch: Sequence[NewResult]) -> list[Added]:
        self.batches.append(len(batch))
        return super().add_many(batch)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    opened = ResultStore.open(tmp_path / "results.db")
    counting = CountingStore(opened.path, opened._writer, opened._reader)
    counting.batches = []
    yield counting
    counting.close()


def test_posts_of_one_loop_turn_share_one_commit(store: CountingStore) -> None:
    service = ResultService(store, StepClock())

    async def post_all() -> list[int]:
        posted = await asyncio.gather(*(service.post({"n": n}, None) for n in range(10)))
        return [p.result.id for p in posted]

    ids = asyncio.run(post_all())

    assert store.batches == [10]
    assert ids == list(range(1, 11))
    assert [r.body for r in store.page(0, 100, None)] == [f'{{"n":{n}}}' for n in range(10)]


def test_repeated_keys_inside_one_batch(store: CountingStore) -> None:
    service = ResultService(store, StepClock())

    async def post_all() -> list[Posted | BaseException]:
        posts = [
            service.post({"v": 1}, "k"),
            service.post({"v": 1}, "k"),
            service.post({"v": 2}, "k"),
        ]
        return list(await asyncio.gather(*posts, return_exceptions=True))

    first, repeat, conflict = asyncio.run(post_all())

    assert store.batches == [3]
    assert isinstance(first, Posted)
    assert isinstance(repeat, Posted)
    assert (first.created, repeat.created) == (True, False)
    assert repeat.result == first.result
    assert isinstance(conflict, ApiError)
    assert conflict.status == 409
    assert store.state().results == 1


def test_a_failing_commit_fails_every_post_of_its_batch(
    store: CountingStore, tmp_path: Path
) -> None:
    refuse_inserts(tmp_path / "results.db")
    service = ResultService(store, StepClock())

    async def post_all() -> list[object]:
        posts = (service.post({"n": n}, None) for n in range(3))
        return await asyncio.gather(*posts, return_exceptions=True)

    outcomes = asyncio.run(post_all())

    assert all(isinstance(outcome, StoreError) for outcome in outcomes)
    assert store.state().results == 0


def test_store_failure_is_a_503_not_a_500(client: TestClient, tmp_path: Path) -> None:
    refuse_inserts(tmp_path / "results.db")

    response = client.post("/result", json={"n": 1})

    assert response.status_code == 503
    assert "nothing was stored; retry later" in response.json()["error"]


def refuse_inserts(path: Path) -> None:
    """Make the real file refuse every insert, as a full disk would."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON result"
            " BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END"
        )
