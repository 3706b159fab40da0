"""Recording started and finished attempts in the ledger, many per transaction."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from localbridge.ticks import Fired, RunReport

log = logging.getLogger("localbridge")

Settle = Callable[[list[Fired], list[RunReport]], None]

YIELD_LIMIT_S = 1.0
"""Real seconds a writer waits at most for the runs handed over to start."""


class OutcomeWriter:
    """Hands fires and finished attempts to ``settle``, many at a time, one thread at a time.

    The thread that hands something over while nobody is writing becomes the
    writer: it passes everything queued up to ``settle`` (the dispatcher),
    which records it in one transaction - together with the attempts that
    take the slots it frees - and only then schedules retries, frees slots
    and tells waiters; it keeps writing until nothing is left. Threads that
    hand something over meanwhile just queue it and move on. Under a burst
    (10,000 functions due at once) that is a few dozen commits instead of
    10,000; in a steady stream no thread is woken to write.

    Handing over never waits: the queues are deques (appends are atomic) and
    the writer's role is a lock that is only ever tried. A thread waiting
    for a lock gives up the interpreter, and under a burst hundreds of
    workers queued behind whichever one the interpreter had paused while it
    held the lock: two thread switches per run, most of a burst's time.
    The writer looks at the queues again after letting go of the role, so
    nothing handed over while it finished is left behind.

    A fire (runs that started from ticks written ahead) is always written in
    the same transaction as, or before, the outcomes of its runs: a batch
    takes the outcomes first and then every fire queued, and the runs of a
    fire are handed over only after it was queued (``queue_fired``).

    Runs come first: while ``starting()`` (runs handed over that no thread has
    taken yet) nobody becomes the writer, for up to ``YIELD_LIMIT_S``: the
    thread that finds no run waiting writes everything queued (or, when the
    limit is up, the next thread to hand something over, or a timer's). Writing
    competes with the runs for the interpreter, and a worker that writes
    takes its next run later: in a burst, recording the first runs while the
    last waited to start made the last start later.
    """

    def __init__(
        self,
        settle: Settle,
        batch_limit: int = 2000,
        starting: Callable[[], bool] = lambda: False,
    ) -> None:
        self._settle = settle
        self._starting = starting
        self._batch_limit = batch_limit
        self._role = threading.Lock()
        """Held by the thread writing (or deciding whether to)."""
        self._queued: collections.deque[RunReport] = collections.deque()
        self._fired: collections.deque[Fired] = collections.deque()
        self._deferred_since: float | None = None

    def put(self, report: RunReport) -> None:
        self._queued.append(report)
        self._write(deferrable=True)

    def queue_fired(self, fired: Fired) -> None:
        """Queue a fire before its runs are handed over (so before any of their
        outcomes), without writing: the hand-over comes first; ``flush`` after it."""
        self._fired.append(fired)

    def flush(self) -> None:
        """Write what is queued, unless a writer is at it already."""
        self._write(deferrable=True)

    def _write(self, deferrable: bool, wait: bool = False) -> None:
        while self._queued or self._fired:
            if not self._role.acquire(blocking=wait):
                return  # the role's holder looks again after letting go
            try:
                deferred = deferrable and self._defer()
                if not deferred:
                    self._drain()
            finally:
                self._role.release()
            # Runs still wait for a thread: one of them hands something over
            # later, or the timer writes. Otherwise look again: what was handed
            # over while this thread held the role is left to it.
            if deferred and self._starting():
                return
            wait = False

    def _defer(self) -> bool:
        """Whether to leave writing to a thread that finds no run waiting (role held)."""
        if not self._starting():
            self._deferred_since = None
            return False
        now = time.monotonic()
        if self._deferred_since is None:
            self._deferred_since = now
            # Whoever hands something over next writes; should nothing be handed
            # over (the runs taken are long), this writes when the limit is up.
            timer = threading.Timer(YIELD_LIMIT_S, self._write, (False, True))
            timer.daemon = True
            timer.start()
        return now - self._deferred_since < YIELD_LIMIT_S

    def _drain(self) -> None:
        """Settle everything queued, a batch at a time (role held)."""
        queued, fired_queue = self._queued, self._fired
        while queued or fired_queue:
            # Outcomes first, then fires: a run's fire was queued before it
            # was handed over, so it is among the fires taken after its outcome.
            batch = [queued.popleft() for _ in range(min(len(queued), self._batch_limit))]
            fired = [fired_queue.popleft() for _ in range(len(fired_queue))]
            self._deferred_since = None
            try:
                self._settle(fired, batch)
            except Exception:
                log.exception("error while recording %d outcome(s)", len(batch))
