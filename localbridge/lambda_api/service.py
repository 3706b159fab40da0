"""The Lambda Invoke API as a service of ``localbridge run``/``serve``, backed by the runtime.

Through ``backends.RuntimeBackend``, ``RequestResponse`` runs via
``Runtime.invoke_now`` and ``Event`` via ``Runtime.enqueue_event``: both are
recorded in the ledger, and an ``Event`` that fails is retried and
dead-lettered like a scheduled tick, as Lambda does for asynchronous
invocations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from localbridge.events import AwsIdentity
from localbridge.lambda_api.backends import RuntimeBackend
from localbridge.lambda_api.deployed_record import (
    DeployedRecordError,
    RecordInUseError,
    write_deployed_record,
)
from localbridge.lambda_api.operation import LambdaInvokeHandler
from localbridge.lambda_api.server import LambdaApiServer
from localbridge.model import FunctionSpec
from localbridge.project.config import ConfigError
from localbridge.runtime.loop import Runtime

log = logging.getLogger("localbridge")


class LambdaApiService:
    """The Invoke API beside the runtime; writes chalice's record for the stage.

    The port is taken when the service is made, before the runtime starts:
    a busy explicit ``--port`` stops ``run`` before anything fires, and a busy
    default port only skips the API with a warning.
    """

    def __init__(
        self,
        project_dir: Path,
        stage: str,
        host: str,
        port: int,
        port_required: bool = True,
        show_environment: bool = False,
    ) -> None:
        self.project_dir = project_dir
        self.stage = stage
        self.show_environment = show_environment
        self.identity = AwsIdentity.from_environment()
        self._server: LambdaApiServer | None = LambdaApiServer(None, host, port)
        try:
            self._server.bind()
        except OSError as error:
            self._server = None
            problem = (
                f"cannot serve the Lambda Invoke API on {host}:{port} ({error.strerror}); "
                "pass another --port"
            )
            if port_required:
                raise ConfigError(problem) from None
            log.warning(f"{problem}; running without it")

    def start(self, runtime: Runtime) -> None:
        if self._server is None:
            return
        backend = RuntimeBackend(runtime)
        self._server.handler = LambdaInvokeHandler(
            backend, self.identity, show_environment=self.show_environment
        )
        # The record first: once the API answers, `chalice invoke` finds it.
        self.write_record(backend.functions(), self._server.url)
        self._server.start()
        log.info(
            f"Lambda Invoke API on {self._server.url} (chalice invoke, aws lambda invoke, boto3)"
        )

    def write_record(self, functions: Sequence[FunctionSpec], url: str) -> None:
        try:
            write_deployed_record(self.project_dir, self.stage, functions, self.identity, url)
        except RecordInUseError as error:
            log.warning(str(error))
        except (DeployedRecordError, OSError) as error:
            log.warning(f"chalice invoke will not reach localbridge: {error}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
