"""Thread mode: handlers run on threads of the current process (tests, benchmarks).

Same event, context, error reporting and JSON round-trip as process mode, at
a fraction of the cost, but without isolation: functions share this process,
its environment (each function's variables are written into ``os.environ``
before it runs) and its imported modules. A thread cannot be killed, so a run
past its timeout is reported TIMEOUT at the deadline while its thread keeps
running in the background until the handler returns.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from localbridge._handlers import (
    Handler,
    HandlerLoadError,
    HandlerOutcome,
    call_handler,
    load_handler,
)
from localbridge.events import AwsIdentity, ContextFields, LambdaContext, new_log_stream_name
from localbridge.model import FunctionSpec, InvocationResult, Outcome


class ThreadInvoker:
    """Runs each invocation on a pooled thread of this process (thread-safe)."""

    def __init__(
        self,
        project_dir: Path,
        identity: AwsIdentity | None = None,
        time_source: Callable[[], float] = time.monotonic,
    ) -> None:
        self.project_dir = project_dir.resolve()
        self.identity = identity or AwsIdentity.from_environment()
        self.time_source = time_source
        self.log_stream = new_log_stream_name()
        self._handlers: dict[str, Handler] = {}
        self._import_lock = threading.Lock()
        self._runners = _Runners()

    def invoke(
        self, function: FunctionSpec, event: Mapping[str, Any], request_id: str
    ) -> InvocationResult:
        started_at = time.time()
        try:
            handler = self._handler(function)
        except HandlerLoadError as failure:
            return _result(failure.outcome, started_at)
        self._apply_environment(function.environment)
        fields = ContextFields.for_invocation(function, self.identity, request_id, self.log_stream)
        context = LambdaContext(fields, self.time_source)
        # A fresh copy, as Lambda deserialises the event for every run.
        own_event = json.loads(json.dumps(event))
        job = self._runners.submit(lambda: call_handler(handler, own_event, context))
        outcome = job.wait(function.timeout_s)
        if outcome is None:
            outcome = HandlerOutcome(
                Outcome.TIMEOUT,
                error_type="Sandbox.Timedout",
                error_message=(
                    f"Task timed out after {function.timeout_s:.2f} seconds "
                    "(thread mode: the handler keeps running in the background)"
                ),
            )
        return _result(outcome, started_at)

    def warm(self, functions: Iterable[FunctionSpec]) -> None:
        """Import every function's handler now rather than at its first run."""
        for function in functions:
            with contextlib.suppress(HandlerLoadError):  # the first run reports it
                self._handler(function)

    def reload(self) -> None:
        with self._import_lock:
            self._handlers.clear()
            for name in [n for n, m in sys.modules.items() if self._is_project_module(m)]:
                del sys.modules[name]
            importlib.invalidate_caches()

    def close(self) -> None:
        self._runners.close()

    def _handler(self, function: FunctionSpec) -> Handler:
        handler = self._handlers.get(function.handler)
        if handler is not None:
            return handler
        with self._import_lock:
            self._put_project_first()
            handler = load_handler(function.handler)
            self._handlers[function.handler] = handler
            return handler

    def _put_project_first(self) -> None:
        """Import from this project, not from a same-named module already loaded."""
        root = str(self.project_dir)
        if sys.path[:1] != [root]:
            sys.path[:] = [root, *(entry for entry in sys.path if entry != root)]
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in _top_level_names(self.project_dir) and not (
                self._is_project_module(module)
            ):
                del sys.modules[name]

    def _is_project_module(self, module: Any) -> bool:
        file = getattr(module, "__file__", None)
        return isinstance(file, str) and Path(file).resolve().is_relative_to(self.project_dir)

    def _apply_environment(self, environment: Mapping[str, str]) -> None:
        if any(os.environ.get(key) != value for key, value in environment.items()):
            os.environ.update(environment)


def _top_level_names(project_dir: Path) -> set[str]:
    return {p.stem for p in project_dir.iterdir() if p.suffix == ".py" or p.is_dir()}


def _result(outcome: HandlerOutcome, started_at: float) -> InvocationResult:
    return InvocationResult(
        outcome=outcome.outcome,
        started_at=started_at,
        ended_at=time.time(),
        payload=outcome.payload,
        error_type=outcome.error_type,
        error_message=outcome.error_message,
        traceback=outcome.traceback,
    )


class _Job:
    """One handler call handed to a runner thread."""

    def __init__(self, call: Callable[[], HandlerOutcome]) -> None:
        self.call = call
        self.outcome: HandlerOutcome | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.outcome = self.call()
        finally:
            self.done.set()

    def wait(self, timeout_s: float) -> HandlerOutcome | None:
        return self.outcome if self.done.wait(timeout_s) else None


class _Runners:
    """Threads that run jobs, created on demand and reused once idle.

    Unbounded on purpose: the caller decides the concurrency, so a run never
    waits for a thread held by another (possibly timed-out) run.
    """

    def __init__(self) -> None:
        self._idle: list[queue.SimpleQueue[_Job | None]] = []
        self._all: set[queue.SimpleQueue[_Job | None]] = set()
        self._lock = threading.Lock()

    def submit(self, call: Callable[[], HandlerOutcome]) -> _Job:
        job = _Job(call)
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                inbox = queue.SimpleQueue()
                self._all.add(inbox)
                threading.Thread(target=self._serve, args=(inbox,), daemon=True).start()
        inbox.put(job)
        return job

    def close(self) -> None:
        with self._lock:
            inboxes, self._all, self._idle = self._all, set(), []
        for inbox in inboxes:
            inbox.put(None)

    def _serve(self, inbox: queue.SimpleQueue[_Job | None]) -> None:
        while (job := inbox.get()) is not None:
            job.run()
            with self._lock:
                if inbox in self._all:
                    self._idle.append(inbox)
