"""Replay's own workers: N threads, each running a few ticks per ledger transaction.

A replay knows its ticks in advance, so it does not need the dispatcher's
hand-offs (a worker thread per run, a writer per batch of outcomes). Here
each of ``--concurrency`` threads takes a batch of ticks from the ``Feed``,
opens their attempts in one transaction - together with recording the
outcomes of its previous batch - and runs them one after the other in its own
thread. A batch is as long as its function's runs allow within
``BATCH_BUDGET_S`` (at most ``MAX_BATCH`` runs), so a slow function gets a
transaction per run and a no-op one a transaction per 64 runs.

The guarantees are the dispatcher's: every attempt is committed as running
before its function starts and its outcome after it ends (a kill -9 leaves
rows ``recover_interrupted`` reopens); a stop lets each worker finish the run
in hand and gives back the attempts it opened but did not start; retries wait
for their time in the feed, and every attempt is logged and told to the
runtime's listeners.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from localbridge.ids import new_uuid
from localbridge.lambda_errors import crashed_result
from localbridge.model import FunctionSpec, InvocationResult
from localbridge.runtime.functions import Function
from localbridge.runtime.loop import Runtime
from localbridge.runtime.retries import after_attempt, is_expired
from localbridge.runtime.runlog import log_buried
from localbridge.ticks import FINAL_STATES, RunReport, Tick, TickState

log = logging.getLogger("localbridge")

BATCH_BUDGET_S = 0.005
"""How long a worker's batch of runs may take, judged by the function's runs so far."""
MAX_BATCH = 64

Entry = tuple[Tick, datetime]
"""A tick to run and when it was handed over (its lateness counts from there)."""
Runnable = tuple[Tick, Function, float]
"""A tick about to run: (tick, its function, lateness in ms)."""
Finished = tuple[RunReport, Function]


class Progress(Protocol):
    def advance(self, failed: bool = False) -> None: ...


@runtime_checkable
class BatchInvoker(Protocol):
    """An invoker that runs several invocations of one function in one hand-over
    (process mode: one message to a worker process, not one per run)."""

    def invoke_batch(
        self, function: FunctionSpec, runs: Sequence[tuple[Mapping[str, Any], str]]
    ) -> list[InvocationResult]: ...


class Feed:
    """The ticks of a replay to run, oldest first, with each function's limit respected.

    The period comes from ``chunks``: an iterator that records the next chunk
    of ticks in the ledger and yields those to run. A worker that finds fewer
    than ``low`` ticks queued records the next chunk itself (one at a time),
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
        chunks: Iterator[Sequence[Tick]],
        low: int,
    ) -> None:
        self._functions = functions
        self._stop = stop
        self._now = now
        self._chunks: Iterator[Sequence[Tick]] | None = chunks
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

    def add(self, ticks: Iterable[Tick]) -> None:
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
            while not self._over() and not self._stop.is_set():
                self._lock.wait(poll)  # bounded: a stop (Ctrl-C) is seen promptly
        return not self._stop.is_set() and self.failure is None

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
        chunk: Sequence[Tick] | None = None
        try:
            chunk = next(self._chunks, None)
        except BaseException as error:
            self.failure = error
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
        while self._retries and self._retries[0][0] <= now:
            at, _, tick = heapq.heappop(self._retries)
            self._queues[tick.function].appendleft((tick, at))
            self._queued += 1

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
        """A run of ``name`` took ``seconds``: batch sizes follow the recent mean."""
        self._mean_s[name] = 0.7 * self._mean_s[name] + 0.3 * seconds


def _age(entry: Entry) -> tuple[datetime, int]:
    return entry[0].scheduled_at, entry[0].id


class ReplayWorkers:
    """``count`` threads running the feed's ticks through the runtime's invoker and ledger."""

    def __init__(
        self,
        runtime: Runtime,
        feed: Feed,
        functions: Mapping[str, Function],
        stop: threading.Event,
        progress: Progress | None = None,
    ) -> None:
        self._runtime = runtime
        self._ledger = runtime.ledger
        self._clock = runtime.clock
        self._feed = feed
        self._functions = functions
        self._stop = stop
        self._progress = progress
        self._threads: list[threading.Thread] = []
        invoker = runtime.invoker
        self._batches = invoker if isinstance(invoker, BatchInvoker) else None

    def start(self, count: int) -> None:
        for number in range(1, count + 1):
            thread = threading.Thread(
                target=self._work, name=f"localbridge-replay-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float | None = None) -> bool:
        """Wait (real seconds) for every worker to end; False when some still run."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _work(self) -> None:
        finished: list[Finished] = []
        names: set[str] = set()
        while True:
            # Holding outcomes to record, never wait: another worker may be waiting for them.
            batch = self._feed.take(names, block=not finished)
            names = {tick.function for tick, _ in batch}
            if not batch and not finished:
                return
            runnable = self._runnable(batch)
            numbers = self._record(finished, runnable)
            finished = [] if numbers is None else self._run(runnable, numbers)

    def _runnable(self, batch: Sequence[Entry]) -> list[Runnable]:
        """The batch's ticks with their lateness; buries those too old to run."""
        now = self._clock.now()
        runnable: list[Runnable] = []
        for tick, due in batch:
            function = self._functions[tick.function]
            if is_expired(tick, function.settings, now):
                self._bury(tick, now)
            else:
                lateness = max(0.0, (now - due).total_seconds() / self._clock.speed * 1000.0)
                runnable.append((tick, function, lateness))
        return runnable

    def _record(
        self, finished: Sequence[Finished], runnable: Sequence[Runnable]
    ) -> list[int] | None:
        """Record the outcomes and open the next attempts in one transaction; their numbers.

        None when the ledger refused: the outcomes' attempts stay running and
        the batch's ticks pending, for the next replay to recover and run.
        """
        try:
            numbers = self._ledger.finish_and_begin(
                [report.end for report, _ in finished],
                [tick for tick, _, _ in runnable],
                self._clock.now(),
                [lateness for _, _, lateness in runnable],
            )
        except Exception:
            log.exception("could not record %d replay outcome(s) in the ledger", len(finished))
            self._feed.settled(len(finished) + len(runnable))
            return None
        self._settle(finished)
        return numbers

    def _run(self, runnable: Sequence[Runnable], numbers: Sequence[int]) -> list[Finished]:
        finished: list[Finished] = []
        index = 0
        while index < len(runnable):
            if self._stop.is_set():
                self._give_back(runnable[index:], numbers[index:])
                break
            group = runnable[index : index + self._group_size(runnable, index)]
            began = time.perf_counter()
            results = self._invoke(group)
            self._feed.observe(group[0][0].function, (time.perf_counter() - began) / len(group))
            ended = self._clock.now()
            for (tick, function, lateness), result in zip(group, results, strict=True):
                decision = after_attempt(tick, result.outcome, function.settings, ended)
                report = RunReport(tick, numbers[index], lateness, result, decision, ended)
                finished.append((report, function))
                index += 1
        return finished

    def _group_size(self, runnable: Sequence[Runnable], index: int) -> int:
        """How many runs from ``index`` on go to the invoker together: one, or with a
        batch invoker, those of the same function in a row."""
        if self._batches is None:
            return 1
        name, end = runnable[index][0].function, index + 1
        while end < len(runnable) and runnable[end][0].function == name:
            end += 1
        return end - index

    def _invoke(self, group: Sequence[Runnable]) -> list[InvocationResult]:
        """The group's results, as ``Dispatcher.invoke`` gives each (same event, same ids)."""
        dispatcher = self._runtime.dispatcher
        if self._batches is None or len(group) == 1:
            return [dispatcher.invoke(function.spec, tick) for tick, function, _ in group]
        spec = group[0][1].spec
        runs = [
            (
                tick.event
                if tick.event is not None
                else dispatcher.build_event(spec, tick.scheduled_at, tick.event_id),
                tick.request_id or new_uuid(),
            )
            for tick, _, _ in group
        ]
        started = time.time()
        try:
            return self._batches.invoke_batch(spec, runs)
        except Exception as error:
            return [crashed_result(error, started, time.time())] * len(group)

    def _give_back(self, runnable: Sequence[Runnable], numbers: Sequence[int]) -> None:
        """A stop came before these ran: their attempts were never made."""
        try:
            opened = [
                (tick.id, number) for (tick, _, _), number in zip(runnable, numbers, strict=True)
            ]
            self._ledger.abandon_attempts(opened, self._clock.now())
        except Exception:
            # They stay running: the next start recovers them as interrupted.
            log.exception("could not give back %d unstarted attempt(s)", len(runnable))

    def _settle(self, finished: Sequence[Finished]) -> None:
        """Log and tell what the ledger now holds; queue the retries."""
        final = 0
        for report, _ in finished:
            tick, decision = report.tick, report.decision
            try:
                self._runtime.dispatcher.report(report)
                self._runtime.notify(tick, decision.state)
            except Exception:
                log.exception("error after recording %s", tick.function)
            if decision.state is TickState.RETRYING and decision.next_attempt_at is not None:
                failures = tick.failures + 1
                retry = replace(
                    tick,
                    state=TickState.RETRYING,
                    attempts=report.attempt,
                    failures=failures,
                    next_attempt_at=decision.next_attempt_at,
                )
                self._feed.retry_later(retry, decision.next_attempt_at)
            elif decision.state in FINAL_STATES:
                final += 1
                if self._progress is not None:
                    self._progress.advance(failed=decision.state is not TickState.SUCCEEDED)
        self._feed.settled(final)

    def _bury(self, tick: Tick, now: datetime) -> None:
        reason = "older than maximum_event_age before it could run"
        try:
            self._ledger.set_state(tick.id, TickState.DEAD, now)
            log_buried(tick, reason)
            self._runtime.notify(tick, TickState.DEAD)
        except Exception:
            log.exception("could not dead-letter %s", tick.function)
        if self._progress is not None:
            self._progress.advance(failed=True)
        self._feed.settled(1)
