"""Ticks and their attempts: states, sources, outcomes, and the records the ledger keeps.

A tick is one (function, scheduled instant) to deliver; each attempt to run it
is an ``Attempt``, and what follows it a ``Decision``; a finished attempt is a
``RunReport``. These records are what the ledger (``localbridge.ledger``)
stores and what the runtime, retries, replay and reports speak in.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from localbridge.model import InvocationResult, Outcome

PAYLOAD_LIMIT = 64 * 1024
"""Payloads (JSON text) longer than this are stored truncated."""


class TickState(enum.StrEnum):
    PENDING = "pending"
    """Recorded, waiting for its (first or next) attempt to start."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    """An attempt failed; the next one is due at ``next_attempt_at``."""
    FAILED = "failed"
    """A synchronous invocation failed; the caller got the error, no retries."""
    DEAD = "dead"
    """Retries exhausted or older than the maximum event age: the dead-letter queue."""
    SKIPPED = "skipped"
    """Missed while the runtime was down and left out by the catch-up policy."""
    PURGED = "purged"
    """Dead-lettered, then discarded by a person (the console's purge)."""


FINAL_STATES = frozenset(
    {TickState.SUCCEEDED, TickState.FAILED, TickState.DEAD, TickState.SKIPPED, TickState.PURGED}
)


class TickSource(enum.StrEnum):
    SCHEDULE = "schedule"
    REPLAY = "replay"
    INVOKE = "invoke"
    """A synchronous invocation (``localbridge invoke``, RequestResponse)."""
    EVENT = "event"
    """An asynchronous invocation (Lambda's ``Event`` invocation type)."""
    REDRIVE = "redrive"


class AttemptOutcome(enum.StrEnum):
    """How an attempt ended: the invoker's outcomes, plus the runtime's own stop."""

    SUCCEEDED = Outcome.SUCCEEDED.value
    ERROR = Outcome.ERROR.value
    TIMEOUT = Outcome.TIMEOUT.value
    CRASHED = Outcome.CRASHED.value
    INTERRUPTED = "interrupted"
    """localbridge itself stopped (crash, kill -9) while the attempt ran; it
    does not count against the function's retries."""

    @classmethod
    def of(cls, outcome: Outcome) -> AttemptOutcome:
        return cls(outcome.value)


@dataclass(frozen=True)
class Tick:
    id: int
    function: str
    scheduled_at: datetime
    state: TickState
    source: TickSource
    attempts: int
    failures: int
    """Attempts that failed (error, timeout, crash): the ones retries count."""
    next_attempt_at: datetime | None
    enqueued_at: datetime
    """When the event came to exist; its age, for ``maximum_event_age``, starts here."""
    event: dict[str, Any] | None
    """The event to deliver; None means "the scheduled event for ``scheduled_at``"."""
    created_at: datetime
    updated_at: datetime
    request_id: str | None = None
    """The ``aws_request_id`` every attempt of this delivery gets (None: ticks of an
    older ledger, which get a new one per attempt)."""
    event_id: str | None = None
    """The scheduled event's ``id``, the same in every attempt (None: as above)."""


@dataclass(frozen=True)
class Attempt:
    tick_id: int
    number: int
    started_at: datetime
    ended_at: datetime | None
    lateness_ms: float
    duration_ms: float | None
    outcome: AttemptOutcome | None
    error_type: str | None
    error_message: str | None
    traceback: str | None
    payload: str | None
    """The returned payload as JSON text (cut at 64 KiB, see ``payload_truncated``)."""
    payload_truncated: bool
    logs: str | None = None
    """The attempt's log: what the function printed, in Lambda's START/END/REPORT frame."""


@dataclass(frozen=True)
class FunctionMark:
    """What the ledger remembers of a function between runs."""

    name: str
    expression: str
    anchor: datetime
    """When its rule was "created": rate schedules count from here."""
    scheduled_through: datetime
    """Every scheduled instant up to here has been recorded (or knowingly skipped)."""


@dataclass(frozen=True)
class NewTick:
    function: str
    scheduled_at: datetime
    source: TickSource
    enqueued_at: datetime
    event: dict[str, Any] | None = None
    state: TickState = TickState.PENDING
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class AttemptEnd:
    """An attempt's outcome and the tick's state that follows from it."""

    result: InvocationResult
    ended_at: datetime
    state: TickState
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """What follows an attempt: the tick's next state, when it runs again, and why."""

    state: TickState
    next_attempt_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class RunReport:
    """One finished attempt, as logged and as reported to listeners."""

    tick: Tick
    attempt: int
    lateness_ms: float
    result: InvocationResult
    decision: Decision
    ended_at: datetime | None = None

    @property
    def end(self) -> tuple[int, int, AttemptEnd]:
        """The ledger row update for this attempt."""
        assert self.ended_at is not None
        end = AttemptEnd(
            self.result, self.ended_at, self.decision.state, self.decision.next_attempt_at
        )
        return self.tick.id, self.attempt, end


@dataclass(frozen=True)
class Fired:
    """One instant's fire: ticks written ahead that started at it, recorded right after."""

    ticks: Sequence[Tick]
    """Written ahead; started as attempt ``tick.attempts + 1`` each, at ``started_at``."""
    started_at: datetime
    lateness_ms: Sequence[float]
    marks: Sequence[FunctionMark] = ()
    dropped: Sequence[int] = field(default_factory=list)
    """Tick ids written ahead and not fired: removed if still untouched."""


def payload_text(payload: Any) -> tuple[str | None, bool]:
    """The payload as JSON text cut at ``PAYLOAD_LIMIT``, and whether it was cut."""
    if payload is None:
        return None, False
    text = json.dumps(payload, default=repr)
    if len(text) > PAYLOAD_LIMIT:
        return text[:PAYLOAD_LIMIT], True
    return text, False
