"""The runtime as a backend for front ends that invoke functions on request
(the Lambda Invoke API endpoint): synchronous runs, and asynchronous ones that
go through the ledger with retries like scheduled ticks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from localbridge.model import FunctionSpec, InvocationResult
from localbridge.runtime.loop import Runtime


class RuntimeBackend:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def functions(self) -> Sequence[FunctionSpec]:
        """The functions served right now (after any reload)."""
        return [function.spec for function in self._runtime.functions()]

    def invoke(self, function: FunctionSpec, event: Mapping[str, Any] | None) -> InvocationResult:
        """``RequestResponse``: run now, wait, no retries; recorded in the ledger."""
        return self._runtime.invoke_now(function.name, event).result

    def enqueue(self, function: FunctionSpec, event: Mapping[str, Any] | None) -> None:
        """``Event``: committed to the ledger before this returns, then run with retries."""
        self._runtime.enqueue_event(function.name, event)
