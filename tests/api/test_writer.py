"""Group commit: concurrent posts share transactions, each still answered on its own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.batch_insert import ROWS_PER_INSERT
from api.errors import ApiError
from api.records import Added, NewResult
from api.service import Posted, ResultService
from api.storage import ResultStore, StoreError
from api.writer import BatchWriter
from tests.api.conftest import StepClock
from tests.support import wait_for


class CountingStore(ResultStore):
    """The real store, also noting how many results each commit held.

    While ``hold`` is set, a commit waits for ``release``: posts arriving
    meanwhile queue up, as they do behind a slow commit. ``threads`` names
    the thread each commit ran on.
    """

    batches: list[int]
    threads: list[str]
    hold: bool
    release: threading.Event

    def add_many(self, batch: Sequence[NewResult]) -> list[Added]:
        self.batches.append(len(batch))
        self.threads.append(threading.current_thread().name)
        if self.hold:
            self.release.wait(timeout=30)
        return super().add_many(batch)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    opened = ResultStore.open(tmp_path / "results.db")
    counting = CountingStore(opened.path, opened._writer)
    counting.batches, counting.threads = [], []
    counting.hold, counting.release = False, threading.Event()
    yield counting
    counting.close()


def committed_bodies(path: Path) -> list[str]:
    """What another connection sees: only what was committed."""
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT body FROM result ORDER BY id")]


def test_posts_queued_behind_a_commit_share_the_next_one(store: CountingStore) -> None:
    service = ResultService(store, StepClock())
    store.hold = True

    async def post_all() -> list[int]:
        first = asyncio.ensure_future(service.post({"n": 0}, None))
        # The first post is inside its commit before the others are posted.
        await asyncio.to_thread(wait_for, lambda: store.batches == [1], 30, "first commit")
        rest = [asyncio.ensure_future(service.post({"n": n}, None)) for n in range(1, 10)]
        await asyncio.sleep(0)  # one loop turn: every post is queued
        store.release.set()
        posted = await asyncio.gather(first, *rest)
        return [p.result.id for p in posted]

    ids = asyncio.run(post_all())
    service.close()

    assert store.batches == [1, 9]
    assert ids == list(range(1, 11))
    assert [r.body for r in store.page(0, 100, None)] == [f'{{"n":{n}}}' for n in range(10)]


def test_writer_runs_off_the_event_loop(store: CountingStore) -> None:
    service = ResultService(store, StepClock())
    store.hold = True

    async def loop_turns_while_a_commit_waits() -> bool:
        post = asyncio.ensure_future(service.post({"n": 0}, None))
        await asyncio.to_thread(wait_for, lambda: store.batches == [1], 30, "commit")
        # The commit is blocked, yet the event loop still runs other work.
        turned = await asyncio.wait_for(asyncio.sleep(0, result=True), timeout=5)
        store.release.set()
        await post
        return turned

    assert asyncio.run(loop_turns_while_a_commit_waits())
    service.close()


def test_a_value_sqlite_cannot_hold_fails_only_its_own_post(store: CountingStore) -> None:
    writer = BatchWriter(store)
    good = [new_result(f'{{"n":{n}}}') for n in range(3)]
    # A lone surrogate cannot be bound as text: UnicodeEncodeError, not sqlite3.Error.
    bad = new_result('{"metric":"\\ud800"}', metric="\ud800")

    async def post_all() -> list[Added | BaseException]:
        posts = [writer.submit(good[0]), writer.submit(bad), writer.submit(good[1])]
        return list(await asyncio.gather(*posts, return_exceptions=True))

    async def post_later() -> Added:
        return await writer.submit(good[2])

    first, refused, second = asyncio.run(post_all())
    later = asyncio.run(post_later())
    writer.close()

    assert isinstance(refused, UnicodeEncodeError)
    assert isinstance(first, Added)
    assert isinstance(second, Added)
    assert later.created
    # Every acknowledged post is committed: another connection sees each of them.
    assert committed_bodies(store.path) == [g.body for g in good]


def new_result(body: str, metric: str | None = None) -> NewResult:
    return NewResult("2022-12-21T00:05:00.000000Z", None, "digest", metric, body)


def test_repeated_keys_inside_one_batch(store: CountingStore) -> None:
    service = ResultService(store, StepClock())
    store.hold = True

    async def post_all() -> list[Posted | BaseException]:
        ahead = asyncio.ensure_future(service.post({"v": 0}, None))
        await asyncio.to_thread(wait_for, lambda: store.batches == [1], 30, "first commit")
        posts = [
            asyncio.ensure_future(service.post({"v": 1}, "k")),
            asyncio.ensure_future(service.post({"v": 1}, "k")),
            asyncio.ensure_future(service.post({"v": 2}, "k")),
        ]
        await asyncio.sleep(0)  # one loop turn: the three are queued behind the first
        store.release.set()
        await ahead
        return list(await asyncio.gather(*posts, return_exceptions=True))

    first, repeat, conflict = asyncio.run(post_all())
    service.close()

    assert store.batches == [1, 3]
    assert isinstance(first, Posted)
    assert isinstance(repeat, Posted)
    assert (first.created, repeat.created) == (True, False)
    assert repeat.result == first.result
    assert isinstance(conflict, ApiError)
    assert conflict.status == 409
    assert store.state().results == 2


def test_a_failing_commit_fails_every_post_of_its_batch(
    store: CountingStore, tmp_path: Path
) -> None:
    refuse_inserts(tmp_path / "results.db")
    service = ResultService(store, StepClock())

    async def post_all() -> list[object]:
        posts = (service.post({"n": n}, None) for n in range(3))
        return await asyncio.gather(*posts, return_exceptions=True)

    outcomes = asyncio.run(post_all())
    service.close()

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


def test_every_commit_runs_on_the_writer_thread(store: CountingStore) -> None:
    service = ResultService(store, StepClock())

    async def post_all() -> list[Posted]:
        return await asyncio.gather(*(service.post({"n": n}, f"k{n}") for n in range(5)))

    posted = asyncio.run(post_all())
    service.close()

    assert [(p.result.id, p.created) for p in posted] == [(n, True) for n in range(1, 6)]
    assert store.batches == [5]  # the posts of one loop step: one commit
    assert store.threads == ["api-writer"]
    assert len(committed_bodies(store.path)) == 5


def test_a_post_waits_for_the_lock_another_connection_holds(store: CountingStore) -> None:
    service = ResultService(store, StepClock())
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction

    async def post_while_held() -> tuple[bool, bool, Posted]:
        post = asyncio.ensure_future(service.post({"n": 1}, "k"))
        await asyncio.to_thread(wait_for, lambda: store.batches == [1], 30, "the commit")
        waiting = not post.done()
        # The commit waits on the lock in the thread; the loop still runs.
        turned = await asyncio.wait_for(asyncio.sleep(0, result=True), timeout=5)
        holder.execute("ROLLBACK")
        return waiting, turned, await post

    try:
        waiting, turned, posted = asyncio.run(post_while_held())
    finally:
        holder.close()
    service.close()

    assert waiting
    assert turned
    assert posted.created
    assert committed_bodies(store.path) == ['{"n":1}']


def test_closing_commits_the_posts_queued_on_the_loop(tmp_path: Path) -> None:
    store = ResultStore.open(tmp_path / "results.db")
    writer = BatchWriter(store)

    async def queue_then_close() -> list[Added]:
        futures = [writer.submit(new_result(f'{{"n":{n}}}')) for n in range(3)]
        writer.close()  # before the loop step that would hand them over ends
        return list(await asyncio.gather(*futures))

    added = asyncio.run(queue_then_close())
    store.close()

    assert [a.created for a in added] == [True] * 3
    assert committed_bodies(tmp_path / "results.db") == [f'{{"n":{n}}}' for n in range(3)]


def test_posts_are_stored_in_the_order_they_came(store: CountingStore) -> None:
    store.hold = True
    service = ResultService(store, StepClock())

    async def post_two() -> tuple[Posted, Posted]:
        first = asyncio.ensure_future(service.post({"n": 1}, None))
        await asyncio.to_thread(wait_for, lambda: store.batches == [1], 30, "the first commit")
        second = asyncio.ensure_future(service.post({"n": 2}, None))
        await asyncio.sleep(0)  # one loop turn: the second post is handed over
        store.release.set()
        return await first, await second

    first, second = asyncio.run(post_two())
    service.close()

    assert first.result.id < second.result.id
    assert committed_bodies(store.path) == ['{"n":1}', '{"n":2}']


def test_a_batch_with_a_stored_key_and_more_posts_than_one_statement(
    store: CountingStore,
) -> None:
    """A key already stored: its piece of the batch takes the transaction path."""
    service = ResultService(store, StepClock())
    posts = [({"n": n}, f"k{n}") for n in range(ROWS_PER_INSERT + 5)]

    async def post(batch: list[tuple[dict[str, int], str]]) -> list[Posted]:
        return await asyncio.gather(*(service.post(result, key) for result, key in batch))

    (stored,) = asyncio.run(post(posts[3:4]))
    posted = asyncio.run(post(posts))
    service.close()

    assert store.batches == [1, ROWS_PER_INSERT, 5]  # committed in pieces
    assert [p.created for p in posted] == [n != 3 for n in range(len(posts))]
    assert posted[3].result == stored.result
    new_ids = [p.result.id for p in posted if p.created]
    assert new_ids == list(range(2, len(posts) + 1))
    assert store.state().results == len(posts)
    bodies = [f'{{"n":{n}}}' for n in range(len(posts))]
    assert sorted(committed_bodies(store.path)) == sorted(bodies)
