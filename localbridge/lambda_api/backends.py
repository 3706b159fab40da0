"""What the Lambda Invoke API runs functions with (an ``abc.InvokeBackend``).

``RuntimeBackend`` is the runtime, inside ``localbridge run``/``serve``:
``RequestResponse`` runs via ``Runtime.invoke_now`` and ``Event`` via
``Runtime.enqueue_event``, both recorded in the ledger, and an ``Event`` that
fails is retried and dead-lettered like a scheduled tick, as Lambda does.

``InvokerBackend`` drives an ``Invoker`` directly: no ledger, no retries; an
``Event`` invocation runs once on a background thread. It is the API on its own
(tests, embedding).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from localbridge.abc import Invoker
from localbridge.events import AwsIdentity, make_event_factory
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions
from localbridge.runtime.loop import Runtime

log = logging.getLogger("localbridge.lambda_api")


class RuntimeBackend:
    """The runtime: synchronous runs, and asynchronous ones through the ledger with retries."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def functions(self) -> Sequence[FunctionSpec]:
        """The functions served right now (after any reload)."""
        return [function.spec for function in self._runtime.functions()]

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any] | None,
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        """``RequestResponse``: run now, wait, no retries; recorded in the ledger."""
        report = self._runtime.invoke_now(
            function.name, event, request_id=request_id, options=options
        )
        return report.result

    def enqueue(
        self, function: FunctionSpec, event: Mapping[str, Any] | None, request_id: str
    ) -> None:
        """``Event``: committed to the ledger before this returns, then run with retries."""
        self._runtime.enqueue_event(function.name, event, request_id)


class InvokerBackend:
    """Invokes ``catalog()``'s functions with ``invoker``; "now" is ``clock()``."""

    def __init__(
        self,
        catalog: Callable[[], Sequence[FunctionSpec]],
        invoker: Invoker,
        identity: AwsIdentity,
        clock: Callable[[], datetime],
        max_async: int = 8,
    ) -> None:
        self._catalog = catalog
        self._invoker = invoker
        self._build_event = make_event_factory(identity)
        self._clock = clock
        self._async = ThreadPoolExecutor(max_async, thread_name_prefix="lambda-event")

    def functions(self) -> Sequence[FunctionSpec]:
        return self._catalog()

    def event_for(
        self, function: FunctionSpec, event: Mapping[str, Any] | None
    ) -> Mapping[str, Any]:
        return self._build_event(function, self._clock()) if event is None else event

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any] | None,
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        return self._invoker.invoke(function, self.event_for(function, event), request_id, options)

    def enqueue(
        self, function: FunctionSpec, event: Mapping[str, Any] | None, request_id: str
    ) -> None:
        payload = self.event_for(function, event)
        self._async.submit(self._run_async, function, payload, request_id)

    def _run_async(self, function: FunctionSpec, event: Mapping[str, Any], request_id: str) -> None:
        result = self.invoke(function, event, request_id)
        log.log(
            logging.INFO if result.succeeded else logging.WARNING,
            f"{function.name} (Event invocation) {result.outcome.value} "
            f"in {result.duration_ms:.1f} ms",
        )

    def close(self) -> None:
        """Let queued Event invocations finish."""
        self._async.shutdown(wait=True)
