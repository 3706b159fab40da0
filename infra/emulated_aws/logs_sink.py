"""Each run's output in CloudWatch Logs, whole, as Lambda writes it.

Lambda writes a function's output to the log group ``/aws/lambda/<name>``,
one log stream per execution environment, framed by its ``START``, ``END``
and ``REPORT`` lines, one log event per line. ``LoggingInvoker`` wraps the
invoker that runs the deployed code and writes the same into moto's logs
backend, so ``chalice logs``, ``aws logs tail`` and boto3 read it through
the ordinary API.

Every line of a run gets there, however much it printed: the process
invoker hands over the run's whole output (``invokers.run_output``), read
from the worker's log file a chunk at a time and written in batches of
PutLogEvents' size, so memory stays bounded whatever a run prints (the
ledger keeps its own copy, the last 64 KiB). A line longer than a log
event's limit (256 KiB) is split across events. Timestamps are wall-clock
(CloudWatch refuses events older than 14 days, and a virtual clock may be
years back): a run's output carries its start, its ``END`` and ``REPORT``
its end.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

from localbridge.abc import Invoker
from localbridge.events import log_group_name, new_log_stream_name
from localbridge.invokers.run_output import RunOutput, StreamsOutput
from localbridge.invokers.runtime_log import framed
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions

log = logging.getLogger("emulated_aws")

EVENT_OVERHEAD_BYTES = 26
"""What CloudWatch Logs counts for each event beside its message."""
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD_BYTES
"""The longest message of one log event, in UTF-8 bytes (256 KiB an event)."""
BATCH_BYTES = 1024 * 1024
BATCH_EVENTS = 10_000
"""One PutLogEvents call's limits: 1 MiB of events, 10,000 of them."""

Stamped = tuple[int, str]
"""A log event: (epoch milliseconds, message)."""


class LogWriter(Protocol):
    def write(self, group: str, stream: str, messages: list[Stamped]) -> None:
        """Append ``(epoch milliseconds, message)`` events to the stream (created if needed)."""


class MotoLogs:
    """Writes into moto's in-process CloudWatch Logs backend."""

    def __init__(self, account: str, region: str) -> None:
        from moto.logs.models import logs_backends

        self._backend = logs_backends[account][region]
        self._lock = threading.Lock()

    def write(self, group: str, stream: str, messages: list[Stamped]) -> None:
        events = [{"timestamp": at, "message": text} for at, text in messages]
        with self._lock:
            self._backend.ensure_log_group(group)
            if stream not in self._backend.groups[group].streams:
                self._backend.create_log_stream(group, stream)
            self._backend.put_log_events(group, stream, events)


def log_events(pieces: Iterable[str], limit: int = MAX_EVENT_BYTES) -> Iterator[str]:
    """The messages Lambda makes of text written in ``pieces``: one per line, blank
    lines left out, a line over ``limit`` UTF-8 bytes cut into several. A line is
    never held whole: what is longer than ``limit`` goes out as it comes."""
    pending = ""
    for piece in pieces:
        *lines, pending = (pending + piece).split("\n")
        for line in lines:
            if line.strip():
                yield from _cut(line, limit)
        if len(pending) > limit // 4:  # it may be over the limit in bytes: cut what is
            *whole, pending = _cut(pending, limit)
            yield from whole
    if pending.strip():
        yield from _cut(pending, limit)


def _cut(line: str, limit: int) -> list[str]:
    """``line`` in pieces of at most ``limit`` UTF-8 bytes, never inside a character."""
    data = line.encode()
    if len(data) <= limit:
        return [line]
    pieces = []
    start = 0
    while len(data) - start > limit:
        end = start + limit
        while data[end] & 0xC0 == 0x80:  # a continuation byte: back to the character's start
            end -= 1
        pieces.append(data[start:end].decode())
        start = end
    pieces.append(data[start:].decode())
    return pieces


def run_events(run: RunOutput) -> Iterator[Stamped]:
    """A run's whole log as log events, ``START`` and the output at its start, the rest
    at its end."""
    start_ms = int(run.result.started_at * 1000)
    end_ms = max(start_ms, int(run.result.ended_at * 1000))
    for message in log_events((run.head,)):
        yield start_ms, message
    for message in log_events(run.pieces()):
        yield start_ms, message
    for message in log_events((run.tail,)):
        yield end_ms, message


def lambda_log_lines(request_id: str, result: InvocationResult, memory_mb: int) -> list[str]:
    """The lines Lambda writes for one invocation, from its result's (bounded) log.

    localbridge's invokers already frame a run's logs as Lambda does
    (``localbridge.invokers.runtime_log``); a result from elsewhere is framed here.
    """
    logs = result.logs
    if not logs.startswith("START RequestId: "):
        logs = framed(result, request_id, memory_mb).logs
    return [line for line in logs.splitlines() if line.strip()]


def batches(events: Iterable[Stamped]) -> Iterator[list[Stamped]]:
    """``events`` in lists that one PutLogEvents call takes."""
    batch: list[Stamped] = []
    size = 0
    for event in events:
        event_size = len(event[1].encode()) + EVENT_OVERHEAD_BYTES
        if batch and (len(batch) == BATCH_EVENTS or size + event_size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        yield batch


class LoggingInvoker:
    """An ``Invoker`` that writes each run's output to the function's log group.

    An inner invoker that streams output (the process invoker) hands over each
    run's whole output; a run it could not start (its worker failed to import
    the handler) has only its result's log, which is written instead.
    """

    def __init__(self, inner: Invoker, writer: LogWriter) -> None:
        self._inner = inner
        self._writer = writer
        self._streamed = threading.local()
        if isinstance(inner, StreamsOutput):
            inner.output_sink = self.write_run

    def invoke(
        self,
        function: FunctionSpec,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
    ) -> InvocationResult:
        self._streamed.done = False
        result = self._inner.invoke(function, event, request_id, options)
        if not self._streamed.done:
            lines = lambda_log_lines(request_id, result, function.memory_mb)
            start_ms = int(result.started_at * 1000)
            end_ms = max(start_ms, int(result.ended_at * 1000))
            # START and the output at the start, END and REPORT at the end of the run.
            stamped = [(start_ms, line) for line in lines[:-2]]
            stamped += [(end_ms, line) for line in lines[-2:]]
            self._write(function, request_id, result.log_stream, stamped)
        return result

    def write_run(self, run: RunOutput) -> None:
        """The inner invoker's sink: every line of one run."""
        self._streamed.done = True
        self._write(run.function, run.request_id, run.result.log_stream, run_events(run))

    def _write(
        self,
        function: FunctionSpec,
        request_id: str,
        stream: str | None,
        events: Iterable[Stamped],
    ) -> None:
        group, stream = log_group_name(function), stream or new_log_stream_name()
        try:
            for batch in batches(events):
                self._writer.write(group, stream, batch)
        except Exception:
            # The run happened and is in the ledger; losing its log copy must not fail it.
            log.exception(f"could not write the logs of {function.lambda_name} {request_id}")

    def warm(self, functions: Iterable[FunctionSpec]) -> None:
        warm = getattr(self._inner, "warm", None)
        if warm is not None:
            warm(functions)

    def reload(self) -> None:
        self._inner.reload()

    def close(self) -> None:
        self._inner.close()
