"""The vocabulary shared by localbridge's parts: functions, invocations, outcomes.

The ``project`` package produces ``FunctionSpec``s (what a stage deploys, with
its reliability ``FunctionSettings``), an ``Invoker`` runs one invocation of a
function and reports an ``InvocationResult``; the runtime, the ledger and the
Lambda Invoke API all speak in these terms and in nothing more specific. (The
runtime's own record, ``runtime.functions.Function``, adds the anchored
schedule, which only the runtime knows.)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


class CatchUp(enum.StrEnum):
    """What to do on start with ticks that fell due while the runtime was down."""

    ALL = "all"
    """Run every missed tick still within the maximum event age, oldest first."""
    LATEST = "latest"
    """Run only the most recent missed tick; record the others as skipped."""
    NONE = "none"
    """Run none of them; record them as skipped."""


MAX_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = timedelta(hours=6)


@dataclass(frozen=True)
class FunctionSettings:
    """How one function's ticks are retried, expired, caught up and limited.

    The defaults are AWS's for asynchronous invocation; ``project.settings``
    reads a stage's own from ``.chalice/config.json``.
    """

    maximum_retry_attempts: int = MAX_RETRY_ATTEMPTS
    retry_delays: tuple[timedelta, ...] = (timedelta(seconds=60), timedelta(seconds=120))
    """Delay before retry 1, 2...; the last one repeats if there are fewer delays."""
    maximum_event_age: timedelta = MAX_EVENT_AGE
    catch_up: CatchUp = CatchUp.ALL
    max_concurrency: int | None = None
    """At most this many runs of the function at once; None is unlimited."""

    def retry_delay(self, retry_number: int) -> timedelta:
        """The wait before retry ``retry_number`` (1-based)."""
        assert retry_number >= 1
        return self.retry_delays[min(retry_number, len(self.retry_delays)) - 1]


@dataclass(frozen=True)
class FunctionSpec:
    """One scheduled function of a Chalice app, as a stage would deploy it."""

    name: str
    """Chalice's name for the function, e.g. ``registrations_per_day``."""
    handler: str
    """The handler string Lambda calls, e.g. ``functions.registrations.registrations_per_day``."""
    expression: str
    """The schedule expression exactly as deployed, e.g. ``cron(5 0 * * ? *)``."""
    app_name: str
    stage: str
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_s: int = 60
    memory_mb: int = 128
    settings: FunctionSettings = field(default_factory=FunctionSettings)
    """localbridge's reliability settings for it (retries, catch-up, concurrency)."""

    @property
    def lambda_name(self) -> str:
        """The deployed Lambda function name: ``<app>-<stage>-<name>``."""
        return f"{self.app_name}-{self.stage}-{self.name}"

    @property
    def rule_name(self) -> str:
        """The EventBridge rule Chalice creates for the schedule."""
        return f"{self.lambda_name}-event"


class Outcome(enum.StrEnum):
    """How one invocation ended."""

    SUCCEEDED = "succeeded"
    ERROR = "error"
    """The handler raised; ``error_type``/``error_message``/``traceback`` say what."""
    TIMEOUT = "timeout"
    """It ran past the function's timeout and was stopped."""
    CRASHED = "crashed"
    """The worker running it died (exit, signal) before it returned."""


@dataclass(frozen=True)
class InvocationResult:
    """What one invocation produced. Times are wall-clock epoch seconds."""

    outcome: Outcome
    started_at: float
    ended_at: float
    payload: Any = None
    """The handler's JSON-serialisable return value (None unless SUCCEEDED)."""
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    logs: str = ""
    """What the function printed or logged during the run."""
    log_stream: str | None = None
    """The worker's Lambda log stream name (``YYYY/MM/DD/[$LATEST]<hex>``), when it had one."""

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED

    @property
    def duration_ms(self) -> float:
        return (self.ended_at - self.started_at) * 1000.0


@dataclass(frozen=True)
class InvokeOptions:
    """What a caller of the Invoke API adds to an invocation, beyond its event."""

    qualifier: str | None = None
    """The version or alias it was invoked with: ``context.invoked_function_arn`` ends in it."""
    client_context: Mapping[str, Any] | None = None
    """``X-Amz-Client-Context``, decoded: ``context.client_context``."""
