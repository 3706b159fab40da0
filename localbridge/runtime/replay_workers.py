"""Replay's own workers: N threads, each running a few ticks per ledger transaction.

A replay knows its ticks in advance, so it does not need the dispatcher's
hand-offs (a worker thread per run, the settler per batch of outcomes). Here
each of ``--concurrency`` threads takes a batch of ticks from the ``Feed``,
opens their attempts in one transaction - together with recording the
outcomes of its previous batch - and runs them one after the other in its own
thread (in process mode, in one message to a worker process). A batch is as
long as its function's runs allow within ``replay_feed.BATCH_BUDGET_S`` (at
most ``MAX_BATCH`` runs), so a slow function gets a transaction per run and a
no-op one a transaction per 128 runs.

The guarantees are the dispatcher's: every attempt is committed as running
before its function starts and its outcome after it ends (a kill -9 leaves
rows ``recover_interrupted`` reopens); a stop lets each worker finish the run
in hand and gives back the attempts it opened but did not start; retries wait
for their time in the feed, and every attempt is logged and told to the
runtime's listeners.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from localbridge.abc import BatchInvoker, Progress
from localbridge.events import tick_event
from localbridge.lambda_errors import crashed_result
from localbridge.ledger.rows import new_tick
from localbridge.model import InvocationResult, Outcome
from localbridge.runtime.functions import Function
from localbridge.runtime.loop import Runtime
from localbridge.runtime.replay_feed import Entry, Feed
from localbridge.runtime.retries import after_attempt
from localbridge.ticks import FINAL_STATES, Decision, NewTick, RunReport, Tick, TickState

log = logging.getLogger("localbridge")

Runnable = tuple[Tick, Function, float]
"""A tick about to run: (tick, its function, lateness in ms)."""
Starting = tuple[Tick | NewTick, Function, float]
"""The same before its attempt is recorded (a ``NewTick``: before the tick is)."""


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
        try:
            self._work_until_done()
        except BaseException as error:
            # Not a run's failure (those are outcomes): a bug, or the ledger gone.
            self._runtime.faults.report(error)
            self._feed.fail(error)

    def _work_until_done(self) -> None:
        finished: list[RunReport] = []
        names: set[str] = set()
        while True:
            # Holding outcomes to record, never wait: another worker may be waiting for them.
            names, starting = self._take(names, block=not finished)
            if not names and not finished:
                return
            opened = self._record(finished, starting)
            # Recorded and told: not held while the next batch runs (memory stays one batch).
            finished, starting = [], []
            if opened is not None:
                finished = self._run(*opened)

    def _take(self, done: set[str], block: bool) -> tuple[set[str], list[Starting]]:
        """The next batch's functions (the slots it holds) and its ticks to start."""
        batch = self._feed.take(done, block)
        return {tick.function for tick, _ in batch}, self._runnable(batch)

    def _runnable(self, batch: Sequence[Entry]) -> list[Starting]:
        """The batch's ticks with their lateness; buries those too old to run."""
        now = self._clock.now()
        runnable: list[Starting] = []
        for tick, due in batch:
            function = self._functions[tick.function]
            # ``retries.is_expired``, for a tick in the ledger or not yet.
            if now > tick.enqueued_at + function.settings.maximum_event_age:
                self._bury(tick, now)
            else:
                lateness = max(0.0, (now - due).total_seconds() / self._clock.speed * 1000.0)
                runnable.append((tick, function, lateness))
        return runnable

    def _record(
        self, finished: Sequence[RunReport], starting: Sequence[Starting]
    ) -> tuple[list[Runnable], list[int]] | None:
        """Record the outcomes and open the next attempts in one transaction.

        The ticks to run, with their attempts' numbers: a new tick another
        process recorded meanwhile is that process's, not run here. None when
        the ledger refused: the outcomes' attempts stay running and the
        batch's ticks pending (or unrecorded), for the next replay to run.
        """
        try:
            opened = self._ledger.finish_and_start(
                finished,
                [tick for tick, _, _ in starting],
                self._clock.now(),
                [lateness for _, _, lateness in starting],
            )
        except Exception as error:
            # The replay stops: what the workers hold now is recorded if the ledger lets it.
            self._runtime.faults.report(error)
            self._feed.fail(error)
            self._feed.settled(len(finished) + len(starting))
            return None
        self._settle(finished)
        runnable: list[Runnable] = []
        numbers: list[int] = []
        for (tick, function, lateness), ids in zip(starting, opened, strict=True):
            if ids is not None:
                recorded = (
                    tick if isinstance(tick, Tick) else new_tick(ids[0], tick, tick.enqueued_at)
                )
                runnable.append((recorded, function, lateness))
                numbers.append(ids[1])
        self._feed.settled(len(starting) - len(runnable))
        return runnable, numbers

    def _run(self, runnable: Sequence[Runnable], numbers: Sequence[int]) -> list[RunReport]:
        """Run the batch one after the other in this thread (or in groups, with a batch
        invoker); the reports of the runs that took place before any stop."""
        if self._batches is not None:
            return self._run_groups(runnable, numbers)
        finished: list[RunReport] = []
        invoke, now, observe = self._runtime.dispatcher.invoke, self._clock.now, self._feed.observe
        # One function's batch (nearly always) is timed as a whole; a mixed one run by run.
        mixed = len({tick.function for tick, _, _ in runnable}) > 1
        began = time.perf_counter()
        for (tick, function, lateness), number in zip(runnable, numbers, strict=True):
            if self._stop.is_set():
                self._give_back(runnable[len(finished) :], numbers[len(finished) :])
                break
            if mixed:
                began = time.perf_counter()
            result = invoke(function.spec, tick)
            if mixed:
                observe(tick.function, time.perf_counter() - began)
            ended = now()
            decision = _decide(tick, result, function, ended)
            finished.append(RunReport(tick, number, lateness, result, decision, ended))
        if finished and not mixed:
            observe(finished[0].tick.function, (time.perf_counter() - began) / len(finished))
        return finished

    def _run_groups(self, runnable: Sequence[Runnable], numbers: Sequence[int]) -> list[RunReport]:
        finished: list[RunReport] = []
        index = 0
        while index < len(runnable):
            if self._stop.is_set():
                self._give_back(runnable[index:], numbers[index:])
                break
            group = runnable[index : index + self._group_size(runnable, index)]
            began = time.perf_counter()
            results = self._invoke(group)
            self._feed.observe(group[0][0].function, (time.perf_counter() - began) / len(group))
            now, last = self._clock.now(), results[-1].ended_at
            for (tick, function, lateness), result in zip(group, results, strict=True):
                ended = now
                if result is not results[-1]:  # it ended before the batch did
                    ended -= timedelta(seconds=(last - result.ended_at) * self._clock.speed)
                decision = _decide(tick, result, function, ended)
                report = RunReport(tick, numbers[index], lateness, result, decision, ended)
                finished.append(report)
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
                tick_event(self._runtime.build_event, spec, tick),
                tick.request_id or str(uuid.uuid4()),
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
        except Exception as error:
            # They stay running: the next start recovers them as interrupted.
            self._runtime.faults.report(error)

    def _settle(self, finished: Sequence[RunReport]) -> None:
        """Log and tell what the ledger now holds; queue the retries."""
        final = 0
        for report in finished:
            tick, decision = report.tick, report.decision
            self._runtime.observers.ran(report)
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

    def _bury(self, tick: Tick | NewTick, now: datetime) -> None:
        reason = "older than maximum_event_age before it could run"
        try:
            if isinstance(tick, NewTick):  # recorded as its chunk would have been, then buried
                recorded = self._ledger.add_ticks([tick], tick.enqueued_at)
                if not recorded:  # another process's meanwhile
                    self._feed.settled(1)
                    return
                tick = recorded[0]
            self._ledger.set_state(tick.id, TickState.DEAD, now)
            self._runtime.observers.buried(tick, reason)
        except Exception as error:
            self._runtime.faults.report(error)
            self._feed.fail(error)
        if self._progress is not None:
            self._progress.advance(failed=True)
        self._feed.settled(1)


_SUCCEEDED = Decision(TickState.SUCCEEDED)


def _decide(tick: Tick, result: InvocationResult, function: Function, ended: datetime) -> Decision:
    """``retries.after_attempt``; a success (nearly every run) without building a record."""
    if result.outcome is Outcome.SUCCEEDED:
        return _SUCCEEDED
    return after_attempt(tick, result.outcome, function.settings, ended)
