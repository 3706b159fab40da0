"""Group commit: posts that arrive together share one transaction, which never blocks the loop.

The posts queued during one step of the event loop are committed together at
the end of that step, on the loop itself, when the file's write lock is free
at once (``ResultStore.try_add_many``): no thread hand-offs, and a commit of
a few posts costs the loop about 100 us. Otherwise the batch goes to a writer
thread of its own: when another connection holds the lock (another process's
transaction, or the thread's own commit), when the commit fails, when the
thread still has posts (so posts are stored in the order they came), and when
the batch's bodies pass ``LOOP_COMMIT_MAX_BYTES`` (writing them would hold the
loop for milliseconds). The thread waits for the lock (the busy timeout) and
commits there, so reads and /health answer whatever a write waits on; it takes
every post queued since its last commit as its next batch, and nothing waits
on a timer. The loop's connection never checkpoints the WAL (that writes the
database file and syncs it): every ``CHECKPOINT_EVERY`` commits the thread does.

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
LOOP_COMMIT_MAX_BYTES = 256 * 1024
"""A batch with more body bytes than this is committed by the thread, not the loop."""
CHECKPOINT_EVERY = 200
"""Commits on the loop between two checkpoints by the thread: a commit adds a
few WAL pages, so about SQLite's own 1,000 pages between checkpoints."""


class BatchWriter:
    """The single writer in front of ``ResultStore``, fed from the event loop."""

    def __init__(self, store: ResultStore):
        self._store = store
        self._here: list[Pending] = []  # queued in this loop step, for a commit on the loop
        self._here_loop: asyncio.AbstractEventLoop | None = None
        self._commits_here = 0
        self._pending: list[Pending] = []  # the thread's next batch
        self._checkpoint_due = False
        self._thread_busy = False  # from taking a batch until its posts are settled
        self._wake = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    async def add(self, new: NewResult) -> Added:
        return await self.submit(new)

    def submit(self, new: NewResult) -> asyncio.Future[Added]:
        """Queue ``new`` (from the running event loop); the future settles after its commit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Added] = loop.create_future()
        if self._closing:
            raise RuntimeError("the results writer is closed")
        if not self._here:
            self._here_loop = loop
            loop.call_soon(self._commit_here)
        elif loop is not self._here_loop:  # another loop's posts wait for its step's end
            self._to_thread([(new, future)])
            return future
        self._here.append((new, future))
        return future

    def _commit_here(self) -> None:
        """End of the loop step: commit its posts now, or hand them to the thread."""
        batch, self._here = self._here, []
        if not batch:
            return  # closed meanwhile: the thread took them
        # Behind posts the thread has, a batch follows them (arrival order); a
        # large one would hold the loop for milliseconds.
        thread_first = self._thread_busy or self._pending
        too_large = sum(len(new.body) for new, _ in batch) > LOOP_COMMIT_MAX_BYTES
        outcomes = None
        if not (thread_first or too_large):
            outcomes = self._store.try_add_many([new for new, _ in batch])
        if outcomes is None:
            self._to_thread(batch)
            return
        settle([(future, outcome) for (_, future), outcome in zip(batch, outcomes, strict=True)])
        self._commits_here += 1
        if self._commits_here % CHECKPOINT_EVERY == 0:
            self._to_thread([], checkpoint=True)

    def _to_thread(self, batch: list[Pending], checkpoint: bool = False) -> None:
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="api-writer", daemon=True)
                self._thread.start()
            self._pending.extend(batch)
            self._checkpoint_due |= checkpoint
            self._wake.notify()

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._wake:
            self._closing = True
            left, self._here = self._here, []  # queued on the loop, its commit not run yet
            thread = self._thread
            if thread is not None:
                self._pending.extend(left)
                self._wake.notify()
        if thread is not None:
            thread.join()
        elif left:
            settle_all(left, commit([new for new, _ in left], self._store))

    def _run(self) -> None:
        while True:
            with self._wake:
                while not (self._pending or self._checkpoint_due or self._closing):
                    self._wake.wait()
                if not (self._pending or self._checkpoint_due):
                    return
                batch, self._pending = self._pending, []
                checkpoint, self._checkpoint_due = self._checkpoint_due, False
                self._thread_busy = bool(batch)
            if batch:
                settle_all(batch, commit([new for new, _ in batch], self._store))
                self._thread_busy = False
            if checkpoint:
                try:
                    self._store.checkpoint()
                except Exception as error:  # the next one may pass; the WAL keeps the data
                    log.warning("results store: WAL checkpoint failed: %s", error)


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
