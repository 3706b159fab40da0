"""Settling: what the runs did, recorded in group commits, then told, then their slots freed.

One thread, ``localbridge-settle``, takes everything on the dispatcher's
``done`` queue - fires, finished runs, burials, throttled ticks held - in the
order it happened, and for each batch:

1. waits until the runs of a fire in it began (at most ``YIELD_LIMIT_S``):
   recording competes with them for the interpreter, and a run's first line
   comes before the ledger's commit;
2. records the batch in one transaction (``RunRecorder.finish_and_begin``):
   the fires first, so an outcome never precedes its attempt's row; under a
   burst, a commit per batch rather than one per run;
3. tells the observers (the run log line, the listeners), and hands each
   retry, and each held tick's next try, to the loop (``retries``, a queue
   the loop reads when woken);
4. frees the runs' slots last (``Dispatcher.release``, which starts waiting
   ticks that now fit): once no slot is taken, everything about the runs has
   happened (``Dispatcher.wait_idle`` relies on it).

If the ledger refuses a batch, its attempts stay ``running`` (or its fired
ticks ``pending``): the next start retries them. The refusal is the
runtime's fault (``faults``, which counts the runs not recorded): the
process stops; meanwhile later batches are still tried (a lock may clear;
once the runtime gave up on it, each try waits one short slice), and slots
are freed all the same so the stop's grace is not spent waiting for them.
"""

from __future__ import annotations

import queue
import threading
import time
from datetime import datetime

from localbridge.abc import RunRecorder
from localbridge.clock import Wakeup
from localbridge.runtime.dispatch import (
    THROTTLED_TOO_LONG,
    Buried,
    Dispatcher,
    Done,
    FireStarted,
    Held,
)
from localbridge.runtime.faults import Faults
from localbridge.runtime.observers import Observers
from localbridge.ticks import RunReport, Tick, TickState

BATCH_LIMIT = 2000
"""Finished runs recorded in one transaction at most."""
YIELD_LIMIT_S = 1.0
"""Real seconds the settler waits at most for a fire's runs to begin."""

Retry = tuple[Tick, datetime]
"""A tick to attempt again, and when."""


class Settler:
    """The thread that records, tells and frees what ``dispatcher.done`` holds."""

    def __init__(
        self,
        ledger: RunRecorder,
        dispatcher: Dispatcher,
        observers: Observers,
        retries: queue.SimpleQueue[Retry],
        wake_loop: Wakeup,
        faults: Faults,
    ) -> None:
        self._ledger = ledger
        self._dispatcher = dispatcher
        self.observers = observers
        self._retries = retries
        self.wake_loop = wake_loop
        self._faults = faults
        self._done = dispatcher.done
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="localbridge-settle")
            self._thread.daemon = True  # a run past the stop's grace must not hold the exit
            self._thread.start()

    def stop(self) -> None:
        """Settle everything handed over so far, then end the thread."""
        if self._thread is not None:
            self._done.put(None)  # everything before it is settled first
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            batch = self._take()
            stop = batch[-1] is None
            try:
                self._settle([item for item in batch if item is not None])
            except Exception as error:
                self._faults.report(error)
            if stop:
                return

    def _take(self) -> list[Done | None]:
        """The next batch, in order: blocks for its first item; a fire's runs begin first."""
        batch = [self._done.get()]
        self._take_queued(batch)
        fires = [item for item in batch if isinstance(item, FireStarted)]
        if fires:
            deadline = time.monotonic() + YIELD_LIMIT_S
            for fire in fires:
                fire.began.wait(max(0.0, deadline - time.monotonic()))
            self._take_queued(batch)  # what ended meanwhile goes in the same commit
        return batch

    def _take_queued(self, batch: list[Done | None]) -> None:
        """Add what is queued, up to ``BATCH_LIMIT`` runs, stopping at a stop."""
        runs = sum(1 for item in batch if isinstance(item, RunReport))
        while runs < BATCH_LIMIT and batch[-1] is not None:
            try:
                item = self._done.get_nowait()
            except queue.Empty:
                return
            batch.append(item)
            runs += isinstance(item, RunReport)

    def _settle(self, batch: list[Done]) -> None:
        fires = [item.fired for item in batch if isinstance(item, FireStarted)]
        finished = [item for item in batch if isinstance(item, RunReport)]
        buried = [item for item in batch if isinstance(item, Buried)]
        try:
            self._ledger.finish_and_begin(
                [report.end for report in finished], [], datetime.min, [], fired=fires
            )
        except Exception as error:
            self._faults.report(error)
            self._faults.not_recorded(len(finished))
        for report in finished:
            self.observers.ran(report)
            decision = report.decision
            if decision.state is TickState.RETRYING and decision.next_attempt_at is not None:
                self._retries.put((report.tick, decision.next_attempt_at))
        for burial in buried:
            self.observers.buried(burial.tick, burial.reason)
        held = [item for item in batch if isinstance(item, Held)]
        for item in held:  # no slot was taken: nothing to free
            if item.retry_at is None:
                self.observers.buried(item.tick, THROTTLED_TOO_LONG)
            else:
                self._retries.put((item.tick, item.retry_at))
        if held:
            self.wake_loop.set()
        if any(r.decision.state is TickState.RETRYING for r in finished):
            self.wake_loop.set()
        names = [report.tick.function for report in finished]
        self._dispatcher.release(names + [burial.tick.function for burial in buried])
