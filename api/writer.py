"""Group commit on a thread of its own: posts that arrive together share one transaction.

The loop hands the thread the posts of each of its steps and never waits on
SQLite; each post is answered after the commit that holds it. A failed batch
is retried one post at a time, so a failure fails only the posts it concerns.
At every lull (``IDLE_CHECKPOINT_S``) the thread truncates the WAL.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence

from api.batch_insert import ROWS_PER_INSERT
from api.records import Added, NewResult
from api.storage import ResultStore

log = logging.getLogger(__name__)
IDLE_CHECKPOINT_S = 1.0
Pending = tuple[NewResult, "asyncio.Future[Added]"]
Outcome = Added | BaseException


class BatchWriter:
    """The single writer in front of ``ResultStore``, fed from event loops."""

    def __init__(self, store: ResultStore):
        self._store = store
        self._step: list[Pending] = []  # posted in this step of the event loop
        # A SimpleQueue hands batches over without a lock the loop could wait on
        # while the thread, holding it, waits for the GIL. None: stop.
        self._queue: queue.SimpleQueue[list[Pending] | None] = queue.SimpleQueue()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="api-writer", daemon=True)
        self._thread.start()

    def submit(self, new: NewResult) -> asyncio.Future[Added]:
        """Queue ``new`` (from a running event loop); the future settles after its commit."""
        if self._closing:
            raise RuntimeError("the results writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Added] = loop.create_future()
        if not self._step:
            # One hand-over (one wake-up of the thread) per loop step, not per post.
            loop.call_soon(self._hand_over)
        self._step.append((new, future))
        return future

    def _hand_over(self) -> None:
        step, self._step = self._step, []
        self._queue.put(step)

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        if not self._closing:
            self._closing = True
            self._hand_over()  # posted in this loop step, its hand-over not run yet
            self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        written = False  # since the last checkpoint
        while True:
            try:
                taken = [self._queue.get(timeout=IDLE_CHECKPOINT_S if written else None)]
            except queue.Empty:
                try:
                    written = not self._store.checkpoint()
                except Exception as error:  # a lull's cleanup: the next lull tries again
                    log.warning("writer: %s", error)
                continue
            written = True
            while not self._queue.empty():  # and takes all that came meanwhile
                taken.append(self._queue.get())
            batch = [pending for step in taken if step is not None for pending in step]
            for start in range(0, len(batch), ROWS_PER_INSERT):
                piece = batch[start : start + ROWS_PER_INSERT]
                settle_all(piece, commit([new for new, _ in piece], self._store))
            if None in taken:
                return


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
        if future.done():  # its client went away; the post is stored all the same
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
