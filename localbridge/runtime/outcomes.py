"""Recording started and finished attempts in the ledger, many per transaction."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from localbridge.ledger import Fired
from localbridge.ticks import RunReport

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

    A fire (runs that started from ticks written ahead) is always written in
    the same transaction as, or before, the outcomes of its runs: a batch
    takes every fire queued, and the runs of a fire are handed over only
    after it was queued (``queue_fired``).

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
        self._lock = threading.Lock()
        self._queued: list[RunReport] = []
        self._fired: list[Fired] = []
        self._writing = False
        self._deferred_since: float | None = None

    def put(self, report: RunReport) -> None:
        with self._lock:
            self._queued.append(report)
            if self._writing or self._defer():
                return  # the writer takes it in its next batch
            self._writing = True
        self._write()

    def _defer(self) -> bool:
        """Whether to leave writing to a thread that finds no run waiting (lock held)."""
        if not self._starting():
            self._deferred_since = None
            return False
        now = time.monotonic()
        if self._deferred_since is None:
            self._deferred_since = now
            # Whoever hands something over next writes; should nothing be handed
            # over (the runs taken are long), this writes when the limit is up.
            timer = threading.Timer(YIELD_LIMIT_S, self._write_deferred)
            timer.daemon = True
            timer.start()
        return now - self._deferred_since < YIELD_LIMIT_S

    def _write_deferred(self) -> None:
        with self._lock:
            if self._writing or not (self._fired or self._queued):
                return
            self._writing = True
        self._write()

    def queue_fired(self, fired: Fired) -> None:
        """Queue a fire before its runs are handed over (so before any of their
        outcomes), without writing: the hand-over comes first; ``flush`` after it."""
        with self._lock:
            self._fired.append(fired)

    def flush(self) -> None:
        """Write what is queued, unless a writer is at it already."""
        with self._lock:
            if self._writing or not (self._fired or self._queued) or self._defer():
                return
            self._writing = True
        self._write()

    def _write(self) -> None:
        while True:
            with self._lock:
                batch = self._queued[: self._batch_limit]
                del self._queued[: self._batch_limit]
                fired, self._fired = self._fired, []
                if not batch and not fired:
                    self._writing = False
                    return
                self._deferred_since = None
            try:
                self._settle(fired, batch)
            except Exception:
                log.exception("error while recording %d outcome(s)", len(batch))
            except BaseException:
                with self._lock:
                    self._writing = False  # the next outcome handed over writes
                raise
