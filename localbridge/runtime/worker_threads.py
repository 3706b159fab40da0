"""The threads runs take place on: daemon threads, so a run stuck for good ends with the process.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the
interpreter exits: a handler that never returns (thread mode) would keep the
process alive after ``Runtime.stop``'s grace period, forever. This pool is
the same idea - threads made on demand up to a maximum, an idle one reused
first - with daemon threads that the exit does not wait for.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("localbridge")

Work = tuple[Callable[..., object], tuple[Any, ...]]


class WorkerThreads:
    """Runs submitted calls on up to ``max_workers`` daemon threads (thread-safe)."""

    def __init__(self, max_workers: int, name_prefix: str) -> None:
        self._max_workers = max_workers
        self._name_prefix = name_prefix
        self._work: queue.SimpleQueue[Work | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._closed = False

    def submit(self, call: Callable[..., object], *args: Any) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot run a call after shutdown")
            self._work.put((call, args))
            if self._idle.acquire(blocking=False) or self._threads >= self._max_workers:
                return
            self._threads += 1
            name = f"{self._name_prefix}_{self._threads}"
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def shutdown(self) -> None:
        """Let the threads end once the calls queued so far are done (returns at once)."""
        with self._lock:
            self._closed = True
            for _ in range(self._threads):
                self._work.put(None)

    def _serve(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                return
            call, args = work
            try:
                call(*args)
            except BaseException:  # the calls report their own errors: a bug
                log.exception("unexpected error in %s", threading.current_thread().name)
            del work, call, args  # not held while idle
            self._idle.release()
