"""An Invoke API server on 127.0.0.1 over the real thread invoker, counting what reached it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from localbridge.abc import Invoker
from localbridge.events import AwsIdentity
from localbridge.http_server import Limits
from localbridge.lambda_api.backends import InvokerBackend
from localbridge.lambda_api.operation import LambdaInvokeHandler
from localbridge.lambda_api.server import LambdaApiServer
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions
from tests.localbridge.chalice_project import spec

IDENTITY = AwsIdentity(account="123456789012", region="us-east-1")
NOW = datetime(2022, 12, 22, 0, 5, tzinfo=UTC)
ECHO = spec("echo")
INVOKE_PATH = f"/2015-03-31/functions/{ECHO.lambda_name}/invocations"


class CountingInvoker:
    """An invoker, counting the invocations that reached it."""

    def __init__(self, inner: Invoker) -> None:
        self.inner = inner
        self.calls = 0
        self._lock = threading.Lock()

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        with self._lock:
            self.calls += 1
        return self.inner.invoke(function, event, request_id, options)

    def reload(self) -> None:
        self.inner.reload()

    def close(self) -> None:
        self.inner.close()


def backend_of(counted: CountingInvoker) -> InvokerBackend:
    """The Invoke API's backend over ``counted``, serving ``ECHO`` at ``NOW``."""
    return InvokerBackend(lambda: [ECHO], counted, IDENTITY, clock=lambda: NOW)


def serve(
    counted: CountingInvoker, limits: Limits | None = None
) -> tuple[LambdaApiServer, InvokerBackend]:
    """A started server on a free port, and its backend (close both)."""
    backend = backend_of(counted)
    server = LambdaApiServer(LambdaInvokeHandler(backend, IDENTITY), port=0, limits=limits)
    return server.start(), backend
