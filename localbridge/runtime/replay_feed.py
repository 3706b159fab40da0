"""The feed of a replay's workers: its ticks, oldest first, within the limits.

The period comes in chunks prepared by whichever worker finds the queue
running low (new ticks, recorded as they start; failed ones, reopened),
retries come back at their time, and each function's
``max_concurrency`` holds (the overall limit is the number of workers). Batch
sizes follow each function's recent run times (``BATCH_BUDGET_S``).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from localbridge.runtime.functions import Function
from localbridge.ticks import NewTick, Tick

BATCH_BUDGET_S = 0.02
"""How long a worker's batch of runs may take, judged by the function's runs so far
(wall time: with four workers on two cores, about a quarter of it is the worker's own)."""
MAX_BATCH = 128
"""At most this many runs per batch (a no-op function's): fewer, larger transactions; a
kill -9 leaves at most this many attempts per worker for the next start to recover."""

Entry = tuple[Tick | NewTick, datetime]
"""A tick to run and when it was handed over (its lateness counts from there); a
``NewTick`` is not in the ledger yet: its worker records it as it starts."""


class Feed:
    """The ticks of a replay to run, oldest first, with each function's limit respected.

    The period comes from ``chunks``: an iterator that prepares the next chunk
    of ticks (checks the ledger, reopens failed ones) and yields those to run.
    A worker that finds fewer than ``low`` ticks queued prepares the next
    chunk itself (one at a time),
    so the queue never holds more than about two chunks and no other thread
    sits between the ledger and the runs. A worker holds one slot of each
    function in its batch while it runs the batch (one run at a time); the
    overall limit is the number of workers. Ticks waiting for a retry come
    back at their time. ``outstanding`` counts ticks handed over and not yet
    in a final state.
    """

    def __init__(
        self,
        functions: Mapping[str, Function],
        stop: threading.Event,
        now: Callable[[], datetime],
        chunks: Iterator[Sequence[Tick | NewTick]],
        low: int,
    ) -> None:
        self._functions = functions
        self._stop = stop
        self._now = now
        self._chunks: Iterator[Sequence[Tick | NewTick]] | None = chunks
        self._low = low
        self._lock = threading.Condition()
        self._queues: dict[str, deque[Entry]] = {name: deque() for name in functions}
        self._queued = 0
        self._retries: list[tuple[datetime, int, Tick]] = []
        self._order = itertools.count()
        self._running = dict.fromkeys(functions, 0)
        self._outstanding = 0
        self._refilling = False
        self._waiting = 0
        self.failure: BaseException | None = None
        """What recording a chunk raised; the replay raises it again."""
        self._mean_s = dict.fromkeys(functions, BATCH_BUDGET_S)

    # -- the replay's side ----------------------------------------------------

    def add(self, ticks: Iterable[Tick | NewTick]) -> None:
        handed_at = self._now()
        with self._lock:
            for tick in ticks:
                self._queues[tick.function].append((tick, handed_at))
                self._queued += 1
                self._outstanding += 1
            self._lock.notify_all()

    def wait_done(self, poll: float = 0.2) -> bool:
        """True once every tick is recorded and final; False on a stop (or a failure)."""
        with self._lock:
            while not self._over() and not self._stop.is_set() and self.failure is None:
                self._lock.wait(poll)  # bounded: a stop (Ctrl-C) is seen promptly
        return not self._stop.is_set() and self.failure is None

    def fail(self, error: BaseException) -> None:
        """Something the replay cannot go on from: every worker ends, the replay raises it."""
        with self._lock:
            if self.failure is None:
                self.failure = error
            self._lock.notify_all()

    def _over(self) -> bool:
        return self._chunks is None and self._outstanding == 0 and not self._refilling

    # -- the workers' side -----------------------------------------------------

    def take(self, done: Iterable[str], block: bool = True) -> list[Entry]:
        """Free the slots of the batch that ran ``done``'s functions; the next batch.

        Blocks (when ``block``) while nothing can run; empty once the replay is
        over or stopped.
        """
        with self._lock:
            for name in done:
                self._running[name] -= 1
            if self._waiting:
                self._lock.notify_all()
        while True:
            batch = self._next(block)
            if batch is not None:
                return batch
            self._refill()

    def _next(self, block: bool) -> list[Entry] | None:
        """The next batch; None when the caller is to record the next chunk first."""
        with self._lock:
            while not self._stop.is_set() and self.failure is None:
                if self._chunks is not None and not self._refilling and self._queued < self._low:
                    self._refilling = True
                    return None
                self._requeue_due_retries()
                batch = self._batch()
                if batch or not block or self._over():
                    for name in {tick.function for tick, _ in batch}:
                        self._running[name] += 1
                    self._queued -= len(batch)
                    return batch
                self._waiting += 1
                self._lock.wait(self._wait_s())
                self._waiting -= 1
            self._lock.notify_all()
            return []

    def _refill(self) -> None:
        """Record the next chunk (outside the lock: the others keep taking meanwhile)."""
        assert self._chunks is not None
        chunk: Sequence[Tick | NewTick] | None = None
        try:
            chunk = next(self._chunks, None)
        except BaseException as error:
            self.fail(error)
        if chunk:
            self.add(chunk)
        with self._lock:
            if chunk is None:
                self._chunks = None
            self._refilling = False
            self._lock.notify_all()

    def _has_room(self, name: str, taken: set[str]) -> bool:
        if name in taken:
            return True
        limit = self._functions[name].settings.max_concurrency
        return limit is None or self._running[name] < limit

    def _batch(self) -> list[Entry]:
        """The oldest ticks with room, as many as the budget allows (call locked)."""
        batch: list[Entry] = []
        taken: set[str] = set()
        size = MAX_BATCH
        while len(batch) < size:
            heads = [q[0] for n, q in self._queues.items() if q and self._has_room(n, taken)]
            if not heads:
                break
            entry = heads[0] if len(heads) == 1 else min(heads, key=_age)
            name = entry[0].function
            queue = self._queues[name]
            taken.add(name)
            size = min(size, max(1, int(BATCH_BUDGET_S / max(self._mean_s[name], 1e-6))))
            # The only function with ticks to take: take its share at once.
            count = min(size - len(batch), len(queue)) if len(heads) == 1 else 1
            batch.extend(queue.popleft() for _ in range(count))
        return batch

    def _requeue_due_retries(self) -> None:
        if not self._retries:
            return
        now = self._now()
        due: list[Entry] = []
        while self._retries and self._retries[0][0] <= now:
            at, _, tick = heapq.heappop(self._retries)
            due.append((tick, at))
        # Ahead of their functions' queues (they are older), still in their own order.
        for entry in reversed(due):
            self._queues[entry[0].function].appendleft(entry)
        self._queued += len(due)

    def _wait_s(self) -> float:
        if not self._retries:
            return 0.2
        ahead = (self._retries[0][0] - self._now()).total_seconds()
        return min(0.2, max(0.001, ahead))

    def retry_later(self, tick: Tick, at: datetime) -> None:
        with self._lock:
            heapq.heappush(self._retries, (at, next(self._order), tick))
            self._lock.notify_all()

    def settled(self, count: int) -> None:
        """``count`` ticks reached a final state."""
        if count:
            with self._lock:
                self._outstanding -= count
                if self._over():  # the waiters are the replay and idle workers, for the end
                    self._lock.notify_all()

    def observe(self, name: str, seconds: float) -> None:
        """A run of ``name`` took ``seconds`` (or its batch's runs, on average): batch sizes
        follow the recent mean."""
        self._mean_s[name] = 0.7 * self._mean_s[name] + 0.3 * seconds


def _age(entry: Entry) -> tuple[datetime, float, str]:
    """Oldest first; at one instant, ticks in the ledger by id, then new ones by function
    (the order their ids would have had)."""
    tick = entry[0]
    if isinstance(tick, Tick):
        return tick.scheduled_at, tick.id, ""
    return tick.scheduled_at, math.inf, tick.function
