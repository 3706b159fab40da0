"""Thread mode: the handler runs in the calling thread (tests, benchmarks).

Same event, context, error reporting and JSON round-trip as process mode, at
a fraction of the cost, but without isolation: functions share this process,
its environment (each function's variables are written into ``os.environ``
before it runs) and its imported modules. A thread cannot be killed, so a run
past its timeout is reported TIMEOUT when it returns, and a handler that
never returns holds its caller's thread for good: use process mode for code
that may hang. Running in the caller's thread rather than handing the call to
another one saves two thread switches per run.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from localbridge import lambda_errors
from localbridge.events import (
    AwsIdentity,
    ContextFields,
    LambdaContext,
    new_log_stream_name,
    new_trace_id,
)
from localbridge.invokers.handlers import Handler, HandlerLoadError, call_handler, load_handler
from localbridge.invokers.output import OutputCapture, bounded
from localbridge.invokers.runtime_log import (
    RuntimeLogHandler,
    framed,
    install_root_handler,
    remove_root_handler,
    set_request_id,
)
from localbridge.invokers.trace_env import set_trace_id
from localbridge.lambda_errors import HandlerOutcome
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions


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
        self._project_first = False
        self._added_to_path = False
        self._output = OutputCapture()
        self._log_handler: RuntimeLogHandler | None = None
        self._loaded_before = dict(sys.modules)
        self._fields: dict[int, tuple[FunctionSpec, ContextFields]] = {}

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        started_at = time.time()
        try:
            handler = self._handler(function)
        except HandlerLoadError as failure:
            return framed(
                failure.outcome.to_result(started_at), request_id, function.memory_mb, _rss_mb()
            )
        if function.environment:
            self._apply_environment(function.environment)
        trace_id = new_trace_id(started_at)
        set_trace_id(trace_id)  # shared by threads: the last run's
        context = self._context(function, request_id, options)
        # A fresh copy, as Lambda deserialises the event for every run.
        own_event = json_copy(event)
        printed = self._output.start()
        set_request_id(request_id)
        try:
            began = self.time_source()
            outcome = _call_in_thread(handler, own_event, context)
            elapsed_s = self.time_source() - began
        finally:
            set_request_id(None)
            self._output.stop()
        if elapsed_s > function.timeout_s:
            detail = f"thread mode: it ran {elapsed_s:.2f} s, then returned"
            outcome = lambda_errors.timed_out(function.timeout_s, detail)
        result = outcome.to_result(started_at, bounded(printed))
        return framed(result, request_id, function.memory_mb, _rss_mb())

    def _context(
        self, function: FunctionSpec, request_id: str, options: InvokeOptions | None
    ) -> LambdaContext:
        """The run's context; without options, from the function's fields made once
        (by ``warm`` or its first run): all but the request id are the function's,
        so they are not built again for every run."""
        if options is not None:
            return LambdaContext(
                ContextFields.for_invocation(
                    function, self.identity, request_id, self.log_stream, options
                ),
                self.time_source,
            )
        context = LambdaContext(self._fields_of(function), self.time_source)
        context.aws_request_id = request_id
        return context

    def _fields_of(self, function: FunctionSpec) -> ContextFields:
        known = self._fields.get(id(function))
        if known is None or known[0] is not function:  # by identity: a spec may hold a dict
            fields = ContextFields.for_invocation(function, self.identity, "", self.log_stream)
            known = self._fields[id(function)] = (function, fields)
        return known[1]

    def warm(self, functions: Iterable[FunctionSpec]) -> None:
        """Import every function's handler and make its context's fields now rather
        than at its first run."""
        for function in functions:
            with contextlib.suppress(HandlerLoadError):  # the first run reports it
                self._handler(function)
                self._fields_of(function)

    def reload(self) -> None:
        with self._import_lock:
            self._handlers.clear()
            self._fields.clear()
            self._project_first = False
            for name in [n for n, m in sys.modules.items() if self._is_user_module(n, m)]:
                del sys.modules[name]
            importlib.invalidate_caches()

    def close(self) -> None:
        """Give the process its streams, root logger and import path back (modules stay)."""
        self._output.uninstall()
        if self._log_handler is not None:
            remove_root_handler(self._log_handler)
            self._log_handler = None
        with self._import_lock:
            if self._added_to_path:
                root = str(self.project_dir)
                sys.path[:] = [entry for entry in sys.path if entry != root]
                self._added_to_path = False

    def _handler(self, function: FunctionSpec) -> Handler:
        handler = self._handlers.get(function.handler)
        if handler is not None:
            return handler
        with self._import_lock:
            if not self._project_first:
                self._output.install()  # before the app exists: its log handler binds stdout
                if self._log_handler is None:
                    self._log_handler = install_root_handler(only_in_runs=True)
                self._put_project_first()
                self._project_first = True
            handler = load_handler(function.handler)
            self._handlers[function.handler] = handler
            return handler

    def _put_project_first(self) -> None:
        """Import from this project, not from a same-named module already loaded."""
        root = str(self.project_dir)
        if sys.path[:1] != [root]:
            self._added_to_path = self._added_to_path or root not in sys.path
            sys.path[:] = [root, *(entry for entry in sys.path if entry != root)]
        shadowed = _top_level_names(self.project_dir) - _NEVER_EVICTED
        for name, module in list(sys.modules.items()):
            if name.partition(".")[0] in shadowed and not self._is_project_module(module):
                del sys.modules[name]

    def _is_user_module(self, name: str, module: Any) -> bool:
        """Loaded from the project for its functions: what a reload must import afresh.

        Modules that were loaded before this invoker existed, and localbridge
        itself (the project directory may be the one localbridge lives in),
        are the running program's, not the functions': they stay.
        """
        return (
            self._loaded_before.get(name) is not module
            and name.partition(".")[0] != "localbridge"
            and self._is_project_module(module)
        )

    def _is_project_module(self, module: Any) -> bool:
        file = getattr(module, "__file__", None)
        return isinstance(file, str) and Path(file).resolve().is_relative_to(self.project_dir)

    def _apply_environment(self, environment: Mapping[str, str]) -> None:
        if any(os.environ.get(key) != value for key, value in environment.items()):
            os.environ.update(environment)


def _call_in_thread(handler: Handler, event: dict[str, Any], context: Any) -> HandlerOutcome:
    """``call_handler``, with ``sys.exit()`` ending the run (as in a worker), not the thread."""
    try:
        return call_handler(handler, event, context)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1 if exit_.code else 0
        return lambda_errors.exited(f"exit status {status}")


def json_copy(event: Mapping[str, Any]) -> dict[str, Any]:
    """What ``json.loads(json.dumps(event))`` gives, without the text in between when
    the event holds only plain JSON values (a scheduled event: a few microseconds less
    per run)."""
    try:
        return _plain_copy(event)  # type: ignore[no-any-return]
    except _NotPlainError:
        copied: dict[str, Any] = json.loads(json.dumps(event))
        return copied


class _NotPlainError(Exception):
    pass


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain_copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        copied = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlainError
            # Scalars inline: most of an event's values, and a call each adds up.
            copied[key] = item if type(item) in _SCALARS else _plain_copy(item)
        return copied
    if kind is list:
        return [item if type(item) in _SCALARS else _plain_copy(item) for item in value]
    if kind in _SCALARS:
        return value
    # Floats (nan, -0.0 spellings), tuples, other mappings: JSON decides.
    raise _NotPlainError


def _rss_mb() -> int:
    """This process's peak resident memory (thread mode shares it with localbridge)."""
    return resource.getrusage(_RSS_OF).ru_maxrss // 1024


# On Linux a thread's usage reports its process's peak memory too (the memory
# is the process's), at a cost that does not grow with the number of threads,
# as the process's, which adds up every thread's times, does.
_RSS_OF = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)


# The standard library and localbridge itself stay loaded whatever the project holds.
_NEVER_EVICTED = frozenset(sys.stdlib_module_names) | {"localbridge"}


def _top_level_names(project_dir: Path) -> set[str]:
    return {p.stem for p in project_dir.iterdir() if p.suffix == ".py" or p.is_dir()}
