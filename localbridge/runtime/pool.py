"""A thread pool that never makes a task wait for a busy thread, up to a cap.

``concurrent.futures.ThreadPoolExecutor`` reuses an idle thread when it thinks
one exists and joins its threads at interpreter exit. Here a thread is started
whenever every existing one is busy (so one slow invocation never delays a
tick), and threads are daemons: a graceful stop is the runtime's job, bounded
by its grace period, not the interpreter's.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, max_workers: int, name: str = "localbridge-worker") -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._max_workers = max_workers
        self._name = name
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._busy_or_queued = 0

    def submit(self, task: Callable[[], None]) -> None:
        with self._lock:
            self._busy_or_queued += 1
            start = self._threads < min(self._busy_or_queued, self._max_workers)
            if start:
                self._threads += 1
                number = self._threads
        self._tasks.put(task)
        if start:
            threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True).start()

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            try:
                task()
            except Exception:
                # A task reports its own failures; this only keeps the thread alive.
                log.exception("unexpected error in a worker thread")
            finally:
                with self._lock:
                    self._busy_or_queued -= 1
