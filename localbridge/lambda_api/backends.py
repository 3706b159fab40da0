"""What the Lambda Invoke API runs functions with.

``InvokerBackend`` drives an ``Invoker`` directly: no ledger, no retries; an
``Event`` invocation runs once on a background thread. It is the API on its own
(tests, embedding). Inside ``localbridge run``/``serve`` the runtime is the
backend instead, so ``Event`` invocations are recorded and retried like ticks.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from localbridge.events import AwsIdentity, scheduled_event
from localbridge.model import FunctionSpec, InvocationResult, Invoker

log = logging.getLogger("localbridge.lambda_api")


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
        self._identity = identity
        self._clock = clock
        self._async = ThreadPoolExecutor(max_async, thread_name_prefix="lambda-event")

    def functions(self) -> Sequence[FunctionSpec]:
        return self._catalog()

    def event_for(
        self, function: FunctionSpec, event: Mapping[str, Any] | None
    ) -> Mapping[str, Any]:
        return scheduled_event(function, self._clock(), self._identity) if event is None else event

    def invoke(self, function: FunctionSpec, event: Mapping[str, Any] | None) -> InvocationResult:
        return self._invoker.invoke(function, self.event_for(function, event), str(uuid.uuid4()))

    def enqueue(self, function: FunctionSpec, event: Mapping[str, Any] | None) -> None:
        payload = self.event_for(function, event)
        self._async.submit(self._run_async, function, payload)

    def _run_async(self, function: FunctionSpec, event: Mapping[str, Any]) -> None:
        result = self.invoke(function, event)
        log.log(
            logging.INFO if result.succeeded else logging.WARNING,
            f"{function.name} (Event invocation) {result.outcome.value} "
            f"in {result.duration_ms:.1f} ms",
        )

    def close(self) -> None:
        """Let queued Event invocations finish."""
        self._async.shutdown(wait=True)
