"""Recording finished attempts in the ledger, many per transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from localbridge.ticks import RunReport

log = logging.getLogger("localbridge")


class OutcomeWriter:
    """Hands finished attempts to ``settle``, many at a time, from one thread at a time.

    The worker thread that hands over an outcome while nobody is writing
    becomes the writer: it passes everything queued up to ``settle`` (the
    dispatcher), which records it in one transaction - together with the
    attempts that take the slots it frees - and only then schedules retries,
    frees slots and tells waiters; it keeps writing until nothing is left.
    Workers that hand over an outcome meanwhile just queue it and move on.
    Under a burst (10,000 functions due at once) that is a few dozen commits
    instead of 10,000; in a steady stream no thread is woken to write.
    """

    def __init__(self, settle: Callable[[list[RunReport]], None], batch_limit: int = 2000) -> None:
        self._settle = settle
        self._batch_limit = batch_limit
        self._lock = threading.Lock()
        self._queued: list[RunReport] = []
        self._writing = False

    def put(self, report: RunReport) -> None:
        with self._lock:
            self._queued.append(report)
            if self._writing:
                return  # the writer takes it in its next batch
            self._writing = True
        self._write()

    def _write(self) -> None:
        while True:
            with self._lock:
                batch = self._queued[: self._batch_limit]
                del self._queued[: self._batch_limit]
                if not batch:
                    self._writing = False
                    return
            try:
                self._settle(batch)
            except Exception:
                log.exception("error while recording %d outcome(s)", len(batch))
            except BaseException:
                with self._lock:
                    self._writing = False  # the next outcome handed over writes
                raise
