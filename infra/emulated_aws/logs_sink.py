"""Each run's output in CloudWatch Logs, as Lambda writes it.

Lambda writes a function's output to the log group ``/aws/lambda/<name>``,
one log stream per execution environment, framed by its ``START``, ``END``
and ``REPORT`` lines. ``LoggingInvoker`` wraps the invoker that runs the
deployed code and writes the same into moto's logs backend, so ``chalice
logs``, ``aws logs tail`` and boto3 read it through the ordinary API.
Timestamps are wall-clock (CloudWatch refuses events older than 14 days,
and a virtual clock may be years back).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from localbridge.abc import Invoker
from localbridge.events import log_group_name, new_log_stream_name
from localbridge.invokers.runtime_log import framed
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions

log = logging.getLogger("emulated_aws")


class LogWriter(Protocol):
    def write(self, group: str, stream: str, messages: list[tuple[int, str]]) -> None:
        """Append ``(epoch milliseconds, message)`` events to the stream (created if needed)."""


class MotoLogs:
    """Writes into moto's in-process CloudWatch Logs backend."""

    def __init__(self, account: str, region: str) -> None:
        from moto.logs.models import logs_backends

        self._backend = logs_backends[account][region]
        self._lock = threading.Lock()

    def write(self, group: str, stream: str, messages: list[tuple[int, str]]) -> None:
        events = [{"timestamp": at, "message": text} for at, text in messages]
        with self._lock:
            self._backend.ensure_log_group(group)
            if stream not in self._backend.groups[group].streams:
                self._backend.create_log_stream(group, stream)
            self._backend.put_log_events(group, stream, events)


def lambda_log_lines(request_id: str, result: InvocationResult, memory_mb: int) -> list[str]:
    """The lines Lambda writes for one invocation, output included.

    localbridge's invokers already frame a run's logs as Lambda does
    (``localbridge.invokers.runtime_log``); a result from elsewhere is framed here.
    """
    logs = result.logs
    if not logs.startswith("START RequestId: "):
        logs = framed(result, request_id, memory_mb).logs
    return [line for line in logs.splitlines() if line.strip()]


class LoggingInvoker:
    """An ``Invoker`` that writes each run's output to the function's log group."""

    def __init__(self, inner: Invoker, writer: LogWriter) -> None:
        self._inner = inner
        self._writer = writer

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        result = self._inner.invoke(function, event, request_id, options)
        stream = result.log_stream or new_log_stream_name()
        lines = lambda_log_lines(request_id, result, function.memory_mb)
        start_ms = int(result.started_at * 1000)
        end_ms = max(start_ms, int(result.ended_at * 1000))
        # START and the output at the start, END and REPORT at the end of the run.
        stamped = [(start_ms, line) for line in lines[:-2]]
        stamped += [(end_ms, line) for line in lines[-2:]]
        try:
            self._writer.write(log_group_name(function), stream, stamped)
        except Exception:
            # The run happened and is in the ledger; losing its log copy must not fail it.
            log.exception(f"could not write the logs of {function.lambda_name} {request_id}")
        return result

    def warm(self, functions: Iterable[FunctionSpec]) -> None:
        warm = getattr(self._inner, "warm", None)
        if warm is not None:
            warm(functions)

    def reload(self) -> None:
        self._inner.reload()

    def close(self) -> None:
        self._inner.close()
