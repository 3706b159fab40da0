"""Process mode: every function runs in its own warm worker processes, as in Lambda.

A function gets one worker per concurrent invocation; a worker that finished
a run waits, warm, for the next one of the same function (at most
``max_idle_per_function`` of them wait; the others retire). A run past the
function's timeout kills its worker; a worker that dies fails only its run;
either way the next invocation starts a fresh one. ``reload()`` retires every
worker once it is idle, so later runs import the code afresh.

Worker processes are capped: at most ``max_workers`` live at once, busy or
idle (an interpreter with its imports costs 15 MB or more; a catch-up of
thousands of ticks must not start thousands). An invocation that finds the
cap reached retires the longest-idle worker of another function, or waits
for a busy one to come back. Idle workers beyond the first of each function
exit after ``idle_exit_s``: a burst leaves one warm worker per function.

Workers run in the project directory, or in the directory ``task_root``
names for a function (an unpacked deployment package, as Lambda's
``/var/task``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from localbridge.events import AwsIdentity
from localbridge.invokers.run_output import OutputSink
from localbridge.invokers.runtime_log import framed
from localbridge.invokers.worker_handle import WorkerProcess
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions

DEFAULT_CLOSE_GRACE_S = 30.0
# Lambda keeps every environment a burst created; on a laptop, a replay with
# high concurrency would leave that many idle interpreters behind.
DEFAULT_MAX_IDLE_PER_FUNCTION = 4
DEFAULT_MAX_WORKERS = 32
"""Worker processes at once (``--max-workers``): a laptop's share, whatever the backlog."""
IDLE_EXIT_S = 300.0
"""Real seconds after which an idle worker beyond its function's first exits."""


class InvokerClosedError(RuntimeError):
    """``invoke`` was called after ``close``."""


class ProcessInvoker:
    """Runs each invocation in a worker process of its function (thread-safe)."""

    def __init__(
        self,
        project_dir: Path,
        identity: AwsIdentity | None = None,
        close_grace_s: float = DEFAULT_CLOSE_GRACE_S,
        max_idle_per_function: int = DEFAULT_MAX_IDLE_PER_FUNCTION,
        task_root: Callable[[FunctionSpec], Path] | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        idle_exit_s: float = IDLE_EXIT_S,
        output_sink: OutputSink | None = None,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers}")
        self.project_dir = project_dir.resolve()
        self.output_sink = output_sink
        """Gets each run's whole output (the results carry the last 64 KiB)."""
        self._task_root = task_root
        self.identity = identity or AwsIdentity.from_environment()
        self.close_grace_s = close_grace_s
        self.max_idle_per_function = max_idle_per_function
        self._lock = threading.Condition()
        self._idle: dict[str, list[WorkerProcess]] = {}
        self._busy: set[WorkerProcess] = set()
        self._idle_since: dict[WorkerProcess, float] = {}
        self._starting = 0
        """Workers being started or stopped: they count toward the cap too."""
        self.max_workers = max_workers
        self.idle_exit_s = idle_exit_s
        self._generation = 0
        self._closed = False
        self._reaper: threading.Thread | None = None
        self._reaper_stop = threading.Event()

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        started_at = time.time()
        worker = self._take_worker(function)
        if worker is None:
            worker, failed = self._start_worker(function, started_at)
            if failed is not None:
                return framed(failed, request_id, function.memory_mb, worker.max_memory_mb())
        try:
            return worker.run(event, request_id, options, self.output_sink)
        finally:
            self._give_back(worker)

    def invoke_batch(
        self, function: FunctionSpec, runs: Sequence[tuple[Mapping[str, Any], str]]
    ) -> list[InvocationResult]:
        """``invoke`` for each ``(event, request id)``, oldest first, in as few messages as
        the runs allow: one per worker, the rest going to a fresh worker when a run
        timed out or crashed (replay's batches: two pipe trips per batch, not per run)."""
        results: list[InvocationResult] = []
        while len(results) < len(runs):
            rest = runs[len(results) :]
            if len(rest) == 1:
                results.append(self.invoke(function, *rest[0]))
                continue
            worker = self._take_worker(function)
            if worker is None:
                worker, failed = self._start_worker(function, time.time())
                if failed is not None:
                    memory = worker.max_memory_mb()
                    results.append(framed(failed, rest[0][1], function.memory_mb, memory))
                    continue
            try:
                results.extend(worker.run_batch(rest, self.output_sink))
            finally:
                self._give_back(worker)
        return results

    def warm(self, functions: Iterable[FunctionSpec]) -> None:
        """Start one worker for each function that has none idle (in parallel), as far
        as the cap allows."""
        with self._lock:
            cold = [f for f in functions if not self._idle.get(f.lambda_name)]
            cold = cold[: max(0, self.max_workers - self._count())]
            self._starting += len(cold)  # the slots the workers take
        if not cold:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(cold))) as pool:
            for worker, failed in pool.map(lambda f: self._start_worker(f, time.time()), cold):
                if failed is None:
                    self._give_back(worker)

    def worker_pids(self, function: FunctionSpec) -> list[int]:
        """The pids of the function's idle workers (for inspection and tests)."""
        with self._lock:
            return [w.pid for w in self._idle.get(function.lambda_name, [])]

    def reload(self) -> None:
        with self._lock:
            self._generation += 1
            retired = [w for workers in self._idle.values() for w in workers]
            self._idle.clear()
            self._idle_since.clear()
            self._starting += len(retired)  # counted until their processes are gone
        self._stop_counted(retired)

    def worker_count(self) -> int:
        """Worker processes alive or about to be (busy, idle, starting, stopping)."""
        with self._lock:
            return self._count()

    def close(self, grace_s: float | None = None) -> None:
        """Stop taking runs, let running ones finish within the grace, then stop all."""
        deadline = time.monotonic() + (self.close_grace_s if grace_s is None else grace_s)
        self._reaper_stop.set()
        with self._lock:
            self._closed = True
            self._lock.notify_all()  # invocations waiting for room give up
            self._lock.wait_for(lambda: not self._busy, max(0.0, deadline - time.monotonic()))
            stragglers = list(self._busy)
        for worker in stragglers:
            worker.kill()
        self.reload()

    def _root_of(self, function: FunctionSpec) -> Path:
        return self.project_dir if self._task_root is None else self._task_root(function)

    def _count(self) -> int:
        """Worker processes that count toward the cap (lock held)."""
        idle = sum(len(workers) for workers in self._idle.values())
        return len(self._busy) + idle + self._starting

    def _take_worker(self, function: FunctionSpec) -> WorkerProcess | None:
        """A warm worker of this very function (same settings and code), now marked busy;
        None when the caller is to start one, room for it being taken (``_starting``).

        At the cap, a function with none of its workers alive takes the place of
        the longest-idle worker of another function (which retires before the new
        one starts); otherwise this waits for a busy worker to come back.
        """
        root, name = self._root_of(function), function.lambda_name
        retired: list[WorkerProcess] = []
        try:
            with self._lock:
                while True:
                    if self._closed:
                        raise InvokerClosedError("the invoker is closed; create a new one")
                    idle = self._idle.get(function.lambda_name)
                    while idle:
                        worker = idle.pop()
                        del self._idle_since[worker]
                        same = worker.function == function and worker.task_root == root
                        if same and worker.alive():
                            self._busy.add(worker)
                            return worker
                        retired.append(worker)  # stale: its slot becomes the new one's
                        self._starting += 1
                    if not retired and self._count() >= self.max_workers:
                        # A function with a busy worker waits for it to come back:
                        # taking another's idle worker would start them cold in turn.
                        has_one = any(w.function.lambda_name == name for w in self._busy)
                        victim = None if has_one else self._longest_idle()
                        if victim is None:
                            self._lock.wait()
                            continue
                        retired.append(victim)
                        self._starting += 1
                    self._starting += 1
                    return None
        finally:
            self._stop_counted(retired)

    def _longest_idle(self) -> WorkerProcess | None:
        """Take the worker idle the longest out of the idle lists (lock held)."""
        if not self._idle_since:
            return None
        worker = min(self._idle_since, key=self._idle_since.__getitem__)
        del self._idle_since[worker]
        self._idle[worker.function.lambda_name].remove(worker)
        return worker

    def _stop_counted(self, workers: Sequence[WorkerProcess]) -> None:
        """Stop workers taken out of the lists, each counted in ``_starting`` until
        its process is gone (a new one must not start before)."""
        for worker in workers:
            try:
                worker.close()
            finally:
                with self._lock:
                    self._starting -= 1
                    self._lock.notify_all()

    def _start_worker(
        self, function: FunctionSpec, started_at: float
    ) -> tuple[WorkerProcess, InvocationResult | None]:
        """A new busy worker in a slot taken for it (``_starting``), or the result that
        says why it could not start."""
        with self._lock:
            generation = self._generation
        try:
            worker = WorkerProcess(function, self._root_of(function), self.identity, generation)
        finally:
            with self._lock:
                self._starting -= 1
                self._lock.notify_all()
        with self._lock:
            self._busy.add(worker)
            closed = self._closed
        if closed:  # close() ran while it was starting
            self._give_back(worker)
            raise InvokerClosedError("the invoker is closed; create a new one")
        problem = worker.wait_ready()
        if problem is None:
            return worker, None
        result = problem.to_result(started_at, worker.logs())
        self._give_back(worker)
        return worker, result

    def _give_back(self, worker: WorkerProcess) -> None:
        """Keep it warm for the next run, unless it is dead, stale or the invoker closed."""
        with self._lock:
            self._busy.discard(worker)
            idle = self._idle.setdefault(worker.function.lambda_name, [])
            keep = (
                worker.alive()
                and worker.generation == self._generation
                and not self._closed
                and len(idle) < self.max_idle_per_function
            )
            if keep:
                idle.append(worker)
                self._idle_since[worker] = time.monotonic()
                self._start_reaper()
            else:
                self._starting += 1  # counted until its process is gone
            self._lock.notify_all()
        if not keep:
            self._stop_counted([worker])

    def _start_reaper(self) -> None:
        """The thread that retires idle workers beyond each function's first (lock held)."""
        if self._reaper is None:
            self._reaper = threading.Thread(
                target=self._reap, name="localbridge-idle-workers", daemon=True
            )
            self._reaper.start()

    def _reap(self) -> None:
        period = max(0.05, self.idle_exit_s / 4)
        while not self._reaper_stop.wait(period):
            self._stop_counted(self._take_expired(time.monotonic() - self.idle_exit_s))

    def _take_expired(self, idle_before: float) -> list[WorkerProcess]:
        """Idle workers beyond each function's most recent one, idle since before
        ``idle_before``, out of the idle lists."""
        expired: list[WorkerProcess] = []
        with self._lock:
            for workers in self._idle.values():
                # The last one given back is taken first: it is the one kept warm.
                expired += [w for w in workers[:-1] if self._idle_since[w] < idle_before]
            for worker in expired:
                self._idle[worker.function.lambda_name].remove(worker)
                del self._idle_since[worker]
            self._starting += len(expired)  # counted until their processes are gone
        return expired
