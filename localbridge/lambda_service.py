"""The Lambda Invoke API as a service of ``localbridge run``/``serve``, backed by the runtime.

``RequestResponse`` runs through ``Runtime.invoke_now`` and ``Event`` through
``Runtime.enqueue_event``, so both are recorded in the ledger, and an ``Event``
that fails is retried and dead-lettered like a scheduled tick, as Lambda does
for asynchronous invocations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from localbridge.chalice_deployed import DeployedRecordError, write_deployed_record
from localbridge.events import AwsIdentity, scheduled_event
from localbridge.lambda_api import LambdaApiServer
from localbridge.lambda_invoke import LambdaInvokeHandler
from localbridge.model import FunctionSpec, InvocationResult, Outcome
from localbridge.project import ConfigError
from localbridge.runtime import Runtime, UnknownFunctionError

log = logging.getLogger("localbridge")


class RuntimeBackend:
    """Serves the runtime's current functions (they change when code is reloaded)."""

    def __init__(self, runtime: Runtime, identity: AwsIdentity) -> None:
        self.runtime = runtime
        self.identity = identity

    def functions(self) -> Sequence[FunctionSpec]:
        return [function.spec for function in self.runtime.functions()]

    def invoke(self, function: FunctionSpec, event: Mapping[str, Any] | None) -> InvocationResult:
        try:
            return self.runtime.invoke_now(function.name, event).result
        except UnknownFunctionError as error:
            # Removed by a reload between lookup and run: report it as Lambda reports errors.
            now = self.runtime.clock.now().timestamp()
            return InvocationResult(Outcome.ERROR, now, now, None, "ResourceNotFound", str(error))

    def enqueue(self, function: FunctionSpec, event: Mapping[str, Any] | None) -> None:
        if event is None:
            event = scheduled_event(function, self.runtime.clock.now(), self.identity)
        self.runtime.enqueue_event(function.name, event)


class LambdaApiService:
    """Starts the Invoke API with the runtime and writes chalice's record for the stage."""

    def __init__(
        self, project_dir: Path, stage: str, host: str, port: int, port_required: bool = True
    ) -> None:
        self.project_dir = project_dir
        self.stage = stage
        self.host = host
        self.port = port
        self.port_required = port_required
        """False for the default port: when it is busy, run on without the API."""
        self.identity = AwsIdentity.from_environment()
        self._server: LambdaApiServer | None = None

    def start(self, runtime: Runtime) -> None:
        backend = RuntimeBackend(runtime, self.identity)
        server = LambdaApiServer(LambdaInvokeHandler(backend, self.identity), self.host, self.port)
        try:
            self._server = server.start()
        except OSError as error:
            problem = (
                f"cannot serve the Lambda Invoke API on {self.host}:{self.port} "
                f"({error.strerror}); pass another --port"
            )
            if self.port_required:
                raise ConfigError(problem) from None
            log.warning(f"{problem}; running without it")
            return
        self.write_record(backend.functions())
        log.info(f"Lambda Invoke API on {server.url} (chalice invoke, aws lambda invoke, boto3)")

    def write_record(self, functions: Sequence[FunctionSpec]) -> None:
        assert self._server is not None
        try:
            write_deployed_record(
                self.project_dir, self.stage, functions, self.identity, self._server.url
            )
        except (DeployedRecordError, OSError) as error:
            log.warning(f"chalice invoke will not reach localbridge: {error}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
