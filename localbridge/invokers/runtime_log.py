"""What a run's log looks like on Lambda: the root logger's handler, and the platform's frame.

Lambda's Python runtime puts a handler on the root logger, so
``logging.getLogger().setLevel(logging.INFO); logger.info(...)`` prints, each
record as ``[LEVEL]\\t<time>Z\\t<request id>\\t<message>``. Around what the
function printed, the platform writes ``START``, ``END`` and ``REPORT`` lines,
and the runtime an ``[ERROR]`` line with the traceback when the handler
raised. ``install_root_handler`` and ``framed`` do the same here, for both
invokers. Standard library only (worker processes import it).
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time

from localbridge import lambda_errors
from localbridge.model import InvocationResult, Outcome

RECORD_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

_current = threading.local()


def set_request_id(request_id: str | None) -> None:
    """The request this thread now runs (None: none); log records carry it."""
    _current.request_id = request_id


def current_request_id() -> str | None:
    found: str | None = getattr(_current, "request_id", None)
    return found


class RuntimeLogHandler(logging.Handler):
    """Writes records to ``sys.stdout`` as it is at the time, in the runtime's format.

    ``only_in_runs``: ignore records from threads that run no invocation
    (thread mode shares the process with localbridge's own logging).
    """

    def __init__(self, only_in_runs: bool = False) -> None:
        super().__init__()
        self.only_in_runs = only_in_runs
        formatter = logging.Formatter(RECORD_FORMAT, DATE_FORMAT)
        formatter.converter = time.gmtime
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        request_id = current_request_id()
        if self.only_in_runs and request_id is None:
            return
        record.aws_request_id = request_id or ""
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


def install_root_handler(only_in_runs: bool = False) -> RuntimeLogHandler:
    handler = RuntimeLogHandler(only_in_runs)
    logging.getLogger().addHandler(handler)
    return handler


def remove_root_handler(handler: RuntimeLogHandler) -> None:
    logging.getLogger().removeHandler(handler)


def error_lines(result: InvocationResult, request_id: str) -> str:
    """What the runtime (or the platform) logs when a run fails."""
    if result.outcome is Outcome.ERROR:
        heading = "[ERROR]" + (f" {result.error_type}" if result.error_type else "")
        if result.error_message:
            heading += (":" if result.error_type else "") + f" {result.error_message}"
        frames = "".join(lambda_errors.stack_trace(result.traceback))
        return f"{heading}\nTraceback (most recent call last):\n{frames}"
    if result.outcome is Outcome.TIMEOUT:
        stamp = time.strftime(DATE_FORMAT, time.gmtime(result.ended_at))
        millis = int(result.ended_at * 1000) % 1000
        return f"{stamp}.{millis:03d}Z {request_id} {result.error_message}\n"
    if result.outcome is Outcome.CRASHED:
        return f"RequestId: {request_id} Error: {result.error_message}\n{result.error_type}\n"
    return ""


def report_line(
    result: InvocationResult, request_id: str, memory_mb: int, max_memory_mb: int | None
) -> str:
    duration = result.duration_ms
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
        f"Billed Duration: {max(1, math.ceil(duration))} ms\tMemory Size: {memory_mb} MB\t"
    )
    if max_memory_mb is not None:
        line += f"Max Memory Used: {max_memory_mb} MB\t"
    if result.outcome is Outcome.TIMEOUT:
        line += "Status: timeout"
    elif result.outcome is Outcome.CRASHED:
        line += f"Status: error\tError Type: {result.error_type}"
    return line.rstrip("\t") + "\n"


def frame(
    result: InvocationResult, request_id: str, memory_mb: int, max_memory_mb: int | None = None
) -> tuple[str, str]:
    """What Lambda writes before a run's output (``START``) and after it (the error,
    ``END``, ``REPORT``)."""
    head = f"START RequestId: {request_id} Version: $LATEST\n"
    tail = (
        f"{error_lines(result, request_id)}"
        f"END RequestId: {request_id}\n"
        f"{report_line(result, request_id, memory_mb, max_memory_mb)}"
    )
    return head, tail


def framed(
    result: InvocationResult,
    request_id: str,
    memory_mb: int,
    max_memory_mb: int | None = None,
    log_stream: str | None = None,
) -> InvocationResult:
    """``result`` with its logs as Lambda's log stream shows the run.

    ``memory_mb`` is the function's configured size; ``max_memory_mb`` what
    it used at most, when known; ``log_stream`` the stream it ran in (default:
    the result's).
    """
    body = result.logs if not result.logs or result.logs.endswith("\n") else result.logs + "\n"
    head, tail = frame(result, request_id, memory_mb, max_memory_mb)
    logs = f"{head}{body}{tail}"
    # Not dataclasses.replace: this runs once per invocation, and replace costs
    # several times a plain construction.
    return InvocationResult(
        result.outcome,
        result.started_at,
        result.ended_at,
        result.payload,
        result.error_type,
        result.error_message,
        result.traceback,
        logs,
        log_stream or result.log_stream,
    )
