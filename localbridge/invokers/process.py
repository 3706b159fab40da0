"""Process mode: every function runs in its own warm worker processes, as in Lambda.

A function gets one worker per concurrent invocation; a worker that finished
a run waits, warm, for the next one of the same function (at most
``max_idle_per_function`` of them wait; the others retire). A run past the
function's timeout kills its worker; a worker that dies fails only its run;
either way the next invocation starts a fresh one. ``reload()`` retires every
worker once it is idle, so later runs import the code afresh.

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
from localbridge.invokers.runtime_log import framed
from localbridge.invokers.worker_handle import WorkerProcess
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions

DEFAULT_CLOSE_GRACE_S = 30.0
# Lambda keeps every environment a burst created; on a laptop, a replay with
# high concurrency would leave that many idle interpreters behind.
DEFAULT_MAX_IDLE_PER_FUNCTION = 4


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
    ) -> None:
        self.project_dir = project_dir.resolve()
        self._task_root = task_root
        self.identity = identity or AwsIdentity.from_environment()
        self.close_grace_s = close_grace_s
        self.max_idle_per_function = max_idle_per_function
        self._lock = threading.Condition()
        self._idle: dict[str, list[WorkerProcess]] = {}
        self._busy: set[WorkerProcess] = set()
        self._generation = 0
        self._closed = False

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        started_at = time.time()
        worker = self._idle_worker(function)
        if worker is None:
            worker, failed = self._start_worker(function, started_at)
            if failed is not None:
                return framed(failed, request_id, function.memory_mb, worker.max_memory_mb())
        try:
            return worker.run(event, request_id, options)
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
            worker = self._idle_worker(function)
            if worker is None:
                worker, failed = self._start_worker(function, time.time())
                if failed is not None:
                    memory = worker.max_memory_mb()
                    results.append(framed(failed, rest[0][1], function.memory_mb, memory))
                    continue
            try:
                results.extend(worker.run_batch(rest))
            finally:
                self._give_back(worker)
        return results

    def warm(self, functions: Iterable[FunctionSpec]) -> None:
        """Start one worker for each function that has none idle (in parallel)."""
        with self._lock:
            cold = [f for f in functions if not self._idle.get(f.lambda_name)]
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
        for worker in retired:
            worker.close()

    def close(self, grace_s: float | None = None) -> None:
        """Stop taking runs, let running ones finish within the grace, then stop all."""
        deadline = time.monotonic() + (self.close_grace_s if grace_s is None else grace_s)
        with self._lock:
            self._closed = True
            self._lock.wait_for(lambda: not self._busy, max(0.0, deadline - time.monotonic()))
            stragglers = list(self._busy)
        for worker in stragglers:
            worker.kill()
        self.reload()

    def _root_of(self, function: FunctionSpec) -> Path:
        return self.project_dir if self._task_root is None else self._task_root(function)

    def _idle_worker(self, function: FunctionSpec) -> WorkerProcess | None:
        """A warm worker of this very function (same settings and code), now marked busy."""
        root = self._root_of(function)
        with self._lock:
            if self._closed:
                raise InvokerClosedError("the invoker is closed; create a new one")
            idle = self._idle.get(function.lambda_name)
            while idle:
                worker = idle.pop()
                if worker.function == function and worker.task_root == root and worker.alive():
                    self._busy.add(worker)
                    return worker
                self._retire_later(worker)
            return None

    def _start_worker(
        self, function: FunctionSpec, started_at: float
    ) -> tuple[WorkerProcess, InvocationResult | None]:
        """A new busy worker, or the result that says why it could not start."""
        with self._lock:
            generation = self._generation
        worker = WorkerProcess(function, self._root_of(function), self.identity, generation)
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
            self._lock.notify_all()
        if not keep:
            worker.close()

    def _retire_later(self, worker: WorkerProcess) -> None:
        threading.Thread(target=worker.close, daemon=True).start()
