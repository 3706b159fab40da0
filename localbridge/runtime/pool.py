"""A thread pool that never makes a task wait for a busy thread, up to a cap.

``concurrent.futures.ThreadPoolExecutor`` reuses an idle thread when it thinks
one exists and joins its threads at interpreter exit. Here a thread is started
whenever every existing one is busy (so one slow invocation never delays a
tick), and threads are daemons: a graceful stop is the runtime's job, bounded
by its grace period, not the interpreter's.

Threads are started one at a time, each new thread starting the next one
still needed before it takes a task: ``Thread.start`` waits until the new
thread runs, which under a burst (10,000 tasks handed over at once, every
thread busy) cost the thread handing them over a GIL hand-off per thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

Task = Callable[[], None]


class WorkerPool:
    def __init__(self, max_workers: int, name: str = "localbridge-worker") -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self._max_workers = max_workers
        self._name = name
        self._tasks: queue.SimpleQueue[Task] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._busy_or_queued = 0
        self._starting = False
        self._taken = threading.Event()
        self._taken.set()

    @property
    def starting(self) -> bool:
        """Whether some task handed over waits for a thread to take it."""
        return not self._tasks.empty()

    def wait_taken(self, timeout: float) -> bool:
        """Wait (real seconds) until a thread took every task handed over; False on timeout."""
        return self._taken.wait(timeout)

    def submit(self, task: Task) -> None:
        self.submit_many([task])

    def submit_many(self, tasks: Sequence[Task]) -> None:
        """Queue ``tasks`` (in order) and start a thread when every one is busy."""
        with self._lock:
            self._busy_or_queued += len(tasks)
        self._taken.clear()
        for task in tasks:
            self._tasks.put(task)
        self._start_if_needed(starting=False)

    def _start_if_needed(self, starting: bool) -> None:
        """Start one more thread when every thread is busy and none is starting
        (``starting``: the caller is the thread that was starting)."""
        with self._lock:
            if starting:
                self._starting = False
            start = not self._starting and self._threads < min(
                self._busy_or_queued, self._max_workers
            )
            if start:
                self._threads += 1
                self._starting = True
                number = self._threads
        if start:
            threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True).start()

    def _work(self) -> None:
        self._start_if_needed(starting=True)
        while True:
            task = self._tasks.get()
            if self._tasks.empty():
                self._taken.set()
            try:
                task()
            except Exception:
                # A task reports its own failures; this only keeps the thread alive.
                log.exception("unexpected error in a worker thread")
            finally:
                with self._lock:
                    self._busy_or_queued -= 1
