"""Recording finished attempts in the ledger, many per transaction, from one thread."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from localbridge.ledger import Ledger
from localbridge.ticks import RunReport

log = logging.getLogger("localbridge")


class OutcomeWriter:
    """Records finished attempts from one thread, many per transaction.

    Worker threads hand over an outcome and move on; this thread commits
    whatever has queued up in one transaction, then calls ``after_commit`` for
    each - so a retry is scheduled, a slot freed or a waiter told only once the
    outcome is durable. Under a burst (10,000 functions due at once) that is a
    few dozen commits instead of 10,000, and no worker waits on the disk.
    """

    def __init__(
        self, ledger: Ledger, after_commit: Callable[[RunReport], None], batch_limit: int = 2000
    ) -> None:
        self._ledger = ledger
        self._after_commit = after_commit
        self._batch_limit = batch_limit
        self._queue: queue.SimpleQueue[RunReport] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="localbridge-ledger", daemon=True)
        self._thread.start()

    def put(self, report: RunReport) -> None:
        self._queue.put(report)

    def _write(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._batch_limit:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._ledger.finish_attempts([report.end for report in batch])
            except Exception:
                # The attempts stay "running": the next start retries them.
                log.exception("could not record %d outcome(s) in the ledger", len(batch))
            for report in batch:
                try:
                    self._after_commit(report)
                except Exception:
                    log.exception("error after recording %s", report.tick.function)
