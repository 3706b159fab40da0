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

A worker that finishes a task takes no lock: it counts the task on its own
counter. A thread that waits for a lock gives up the interpreter, and under a
burst every worker then queues behind the one the interpreter paused while
it held the lock.
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
        self._submitted = 0
        self._finished: list[list[int]] = []
        """Each thread's count of the tasks it finished (written by that thread alone)."""
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
            self._submitted += len(tasks)
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
            busy_or_queued = self._submitted - sum(count[0] for count in self._finished)
            start = not self._starting and self._threads < min(busy_or_queued, self._max_workers)
            if start:
                self._threads += 1
                self._starting = True
                number = self._threads
                finished = [0]
                self._finished.append(finished)
        if start:
            threading.Thread(
                target=self._work, args=(finished,), name=f"{self._name}-{number}", daemon=True
            ).start()

    def _work(self, finished: list[int]) -> None:
        self._start_if_needed(starting=True)
        tasks, taken = self._tasks, self._taken
        while True:
            task = tasks.get()
            if tasks.empty() and not taken.is_set():
                taken.set()
            try:
                task()
            except Exception:
                # A task reports its own failures; this only keeps the thread alive.
                log.exception("unexpected error in a worker thread")
            finally:
                finished[0] += 1
