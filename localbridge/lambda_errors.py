"""Lambda's error vocabulary, written once: what a failed invocation is called.

Both invokers, the worker process and the Lambda Invoke API build their
errors here, so a timeout, a runtime exit, a handler that cannot be imported
or a return value that cannot be marshalled reads the same wherever it is
reported, and the same as in CloudWatch (``Sandbox.Timedout``,
``Runtime.ExitError``, ``Runtime.ImportModuleError``, ``Runtime.MarshalError``).

``HandlerOutcome`` is one call's result before its wall-clock times and logs
are attached; ``HandlerOutcome.to_result`` is the one place an
``InvocationResult`` is built from it. Standard library only (worker
processes import it).
"""

from __future__ import annotations

import signal
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localbridge.model import InvocationResult, Outcome

TIMEOUT = "Sandbox.Timedout"
EXIT = "Runtime.ExitError"
INIT_TIMEOUT = "Runtime.InitTimeout"
IMPORT_MODULE = "Runtime.ImportModuleError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
MALFORMED_HANDLER = "Runtime.MalformedHandlerName"
MARSHAL = "Runtime.MarshalError"
RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
"""Lambda's response quota, 6 MB, as its error message counts it (6291556 bytes)."""
# Signals whose default action dumps core: Go, which Lambda's platform is
# written in, adds "(core dumped)" to how such a runtime exited.
_CORE_SIGNALS = frozenset(
    {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGQUIT,
     signal.SIGSYS, signal.SIGTRAP}
)  # fmt: skip


@dataclass(frozen=True)
class HandlerOutcome:
    """The result of one call, before wall-clock times and logs are attached."""

    outcome: Outcome
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "outcome": self.outcome.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HandlerOutcome:
        return cls(**{**data, "outcome": Outcome(data["outcome"])})

    def to_result(
        self, started_at: float, logs: str = "", ended_at: float | None = None
    ) -> InvocationResult:
        """The invocation's result, ending now (or at ``ended_at``), with what it printed."""
        return InvocationResult(
            outcome=self.outcome,
            started_at=started_at,
            ended_at=time.time() if ended_at is None else ended_at,
            payload=self.payload,
            error_type=self.error_type,
            error_message=self.error_message,
            traceback=self.traceback,
            logs=logs,
        )


def error(error_type: str, message: str, formatted_traceback: str | None = None) -> HandlerOutcome:
    """The handler (or loading it) failed: Lambda's ``Unhandled`` function error."""
    return HandlerOutcome(
        Outcome.ERROR, error_type=error_type, error_message=message, traceback=formatted_traceback
    )


def timeout_message(timeout_s: float) -> str:
    return f"Task timed out after {timeout_s:.2f} seconds"


def timed_out(timeout_s: float, detail: str = "") -> HandlerOutcome:
    """The run passed the function's timeout and was stopped (or, in a thread, noticed)."""
    message = timeout_message(timeout_s) + (f" ({detail})" if detail else "")
    return HandlerOutcome(Outcome.TIMEOUT, error_type=TIMEOUT, error_message=message)


def init_timed_out(handler: str, limit_s: float) -> HandlerOutcome:
    return HandlerOutcome(
        Outcome.TIMEOUT,
        error_type=INIT_TIMEOUT,
        error_message=f"importing {handler} took more than {limit_s:.0f} s",
    )


def exit_message(how: str) -> str:
    return f"Runtime exited with error: {how}"


def exit_status(status: int) -> str:
    """How a runtime process ended, in Lambda's words (Go's ``ProcessState.String``).

    ``status`` is a ``Popen.returncode``: negative for a signal.
    """
    if status >= 0:
        return f"exit status {status}"
    try:
        number = signal.Signals(-status)
    except ValueError:
        return f"signal: {-status}"
    name = signal.strsignal(number) or number.name
    core = " (core dumped)" if number in _CORE_SIGNALS else ""
    return f"signal: {name[:1].lower()}{name[1:]}{core}"


def exited(how: str) -> HandlerOutcome:
    """The runtime (the worker, or ``sys.exit`` in a thread) ended mid-run; ``how`` says how."""
    return HandlerOutcome(Outcome.CRASHED, error_type=EXIT, error_message=exit_message(how))


def import_failed(module_name: str, cause: BaseException, formatted: str) -> HandlerOutcome:
    return error(IMPORT_MODULE, f"Unable to import module '{module_name}': {cause}", formatted)


def handler_not_found(attribute: str, module_name: str) -> HandlerOutcome:
    return error(HANDLER_NOT_FOUND, f"Handler '{attribute}' missing on module '{module_name}'")


def malformed_handler(handler: str) -> HandlerOutcome:
    return error(
        MALFORMED_HANDLER,
        f"Bad handler '{handler}': not enough values to unpack (expected module.function)",
    )


def marshal_failed(cause: BaseException) -> HandlerOutcome:
    return error(MARSHAL, f"Unable to marshal response: {cause}")


def response_too_large() -> HandlerOutcome:
    return error(
        RESPONSE_TOO_LARGE,
        "Response payload size exceeded maximum allowed payload size "
        f"({MAX_RESPONSE_BYTES} bytes).",
    )


def format_traceback(error: BaseException, skip: int = 0) -> str:
    """A traceback as Lambda's Python runtime words it.

    The runtime formats plain (file, line, function, source) frames, so
    Python 3.11's ``^^^^`` position markers never appear; only the last
    exception of a chain is shown. ``skip`` leaves out the outermost frames
    (the runtime's own).
    """
    frames = traceback.extract_tb(error.__traceback__)[skip:]
    plain = [(f.filename, f.lineno or 0, f.name, f.line) for f in frames]
    return (
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_list(plain))
        + "".join(traceback.format_exception_only(type(error), error))
    )


def stack_trace(formatted: str | None) -> list[str]:
    """Lambda's ``stackTrace``: one string per frame, as ``traceback.format_list`` gives.

    ``formatted`` is a whole formatted traceback; its heading and the closing
    exception line are not frames. Chained exceptions keep only the last chain.
    """
    if not formatted:
        return []
    frames: list[str] = []
    for line in formatted.splitlines(keepends=True):
        if line.startswith("  File "):
            frames.append(line)
        elif line.startswith("    ") and frames:
            frames[-1] += line
        elif line.startswith("Traceback (most recent call last)"):
            frames = []
    return frames


def crashed_result(cause: BaseException, started_at: float, ended_at: float) -> InvocationResult:
    """What an invoker that raised (instead of reporting) amounts to."""
    outcome = HandlerOutcome(
        Outcome.CRASHED,
        error_type=type(cause).__name__,
        error_message=str(cause),
        traceback=format_traceback(cause),
    )
    return outcome.to_result(started_at, ended_at=ended_at)
