"""Group commit on a thread of its own: posts that arrive together share one transaction.

Each post waits on a future while a dedicated writer thread commits: SQLite
(and its busy wait when another process holds the file's write lock) never runs
on the event loop, so reads and /health answer whatever a write waits on. The
thread takes every post queued since its last commit as the next batch: nothing
waits on a timer, an idle server commits a lone post at once, and under load
posts queue up while the previous commit runs.

A batch that fails is retried one post at a time, so a failure (a full disk, a
value SQLite refuses) fails only the posts it concerns. Each post is
acknowledged only after the commit that holds it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence

from api.records import Added, NewResult
from api.storage import ResultStore

log = logging.getLogger(__name__)
Pending = tuple[NewResult, "asyncio.Future[Added]"]
Outcome = Added | BaseException


class BatchWriter:
    """The single writer in front of ``ResultStore.add_many``, fed from any event loop."""

    def __init__(self, store: ResultStore):
        self._store = store
        self._pending: list[Pending] = []
        self._wake = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    async def add(self, new: NewResult) -> Added:
        return await self.submit(new)

    def submit(self, new: NewResult) -> asyncio.Future[Added]:
        """Queue ``new`` (from the running event loop); the future settles after its commit."""
        future: asyncio.Future[Added] = asyncio.get_running_loop().create_future()
        with self._wake:
            if self._closing:
                raise RuntimeError("the results writer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="api-writer", daemon=True)
                self._thread.start()
            self._pending.append((new, future))
            # The thread waits only on an empty queue: the first post after it
            # took a batch is the one to wake it; later ones find it awake.
            if len(self._pending) == 1:
                self._wake.notify()
        return future

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._wake:
            self._closing = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closing:
                    self._wake.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
            outcomes = commit([new for new, _ in batch], self._store)
            settle_all(batch, outcomes)


def commit(batch: Sequence[NewResult], store: ResultStore) -> list[Outcome]:
    """One transaction for the batch; when it fails, one per post, each with its outcome."""
    try:
        return list(store.add_many(batch))
    except Exception as error:
        if len(batch) == 1:
            return [error]
    outcomes: list[Outcome] = []
    for new in batch:
        try:
            outcomes.append(store.add(new))
        except Exception as error:
            outcomes.append(error)
    return outcomes


def settle_all(batch: Sequence[Pending], outcomes: Sequence[Outcome]) -> None:
    """Hand each outcome to its future, one wake-up per event loop for the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Added], Outcome]]] = {}
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(future.get_loop(), []).append((future, outcome))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(settle, settled)
        except RuntimeError:  # the loop closed meanwhile: nobody is waiting
            log.debug("writer: event loop closed before %d posts were answered", len(settled))


def settle(settled: list[tuple[asyncio.Future[Added], Outcome]]) -> None:
    for future, outcome in settled:
        # A post whose client went away is stored all the same.
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
