"""Mapping ledger rows to the records of ``localbridge.ticks`` and back."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from localbridge.instants import format_instant, parse_instant, parse_optional
from localbridge.model import InvocationResult, Outcome
from localbridge.ticks import (
    Attempt,
    AttemptEnd,
    AttemptOutcome,
    NewTick,
    RunReport,
    Tick,
    TickSource,
    TickState,
    payload_text,
)

Rows = list[tuple[Any, ...]]

TICK_COLUMNS = (
    "id, function, scheduled_at, state, source, attempts, failures, next_attempt_at, "
    "enqueued_at, event, created_at, updated_at, request_id, event_id"
)
ATTEMPT_COLUMNS = (
    "tick_id, number, started_at, ended_at, lateness_ms, duration_ms, outcome, "
    "error_type, error_message, traceback, payload, payload_truncated, logs"
)
INVOKED_SOURCES = frozenset({TickSource.INVOKE, TickSource.EVENT})
"""Invocations (``invoke``, the Invoke API): recorded apart from the scheduled
instants (the ``invoked`` column), so one never takes a scheduled tick's place."""


def is_invoked(tick: NewTick) -> int:
    """The ``invoked`` column of a new tick: 1 for an invocation, 0 for a scheduled instant."""
    return int(tick.source in INVOKED_SOURCES)


def tick_from_row(row: sqlite3.Row) -> Tick:
    return Tick(
        id=row[0],
        function=row[1],
        scheduled_at=parse_instant(row[2]),
        state=TickState(row[3]),
        source=TickSource(row[4]),
        attempts=row[5],
        failures=row[6],
        next_attempt_at=parse_optional(row[7]),
        enqueued_at=parse_instant(row[8]),
        event=None if row[9] is None else json.loads(row[9]),
        created_at=parse_instant(row[10]),
        updated_at=parse_instant(row[11]),
        request_id=row[12],
        event_id=row[13],
    )


def new_tick(tick_id: int, tick: NewTick, now: datetime) -> Tick:
    """The row ``add_ticks`` just wrote, without reading it back."""
    # Positional, in the field order of ``Tick``: built once per replayed run,
    # where keywords would cost more than the rest of it.
    return Tick(
        tick_id,
        tick.function,
        tick.scheduled_at,
        tick.state,
        tick.source,
        0,  # attempts
        0,  # failures
        None,  # next_attempt_at
        tick.enqueued_at,
        tick.event,
        now,  # created_at
        now,  # updated_at
        tick.request_id,
        tick.event_id,
    )


def attempt_from_row(row: sqlite3.Row) -> Attempt:
    return Attempt(
        tick_id=row[0],
        number=row[1],
        started_at=parse_instant(row[2]),
        ended_at=parse_optional(row[3]),
        lateness_ms=row[4],
        duration_ms=row[5],
        outcome=None if row[6] is None else AttemptOutcome(row[6]),
        error_type=row[7],
        error_message=row[8],
        traceback=row[9],
        payload=row[10],
        payload_truncated=bool(row[11]),
        logs=row[12],
    )


# Looked up once per row written, rather than converting the enums each time.
_OUTCOME_TEXT = {outcome: AttemptOutcome.of(outcome).value for outcome in Outcome}
_STATE_TEXT = {state: state.value for state in TickState}


def outcome_rows(finished: Sequence[tuple[int, int, AttemptEnd]]) -> tuple[Rows, Rows]:
    """The ``attempts`` and ``ticks`` updates that record finished attempts."""
    return _outcome_rows(
        (tick_id, number, end.result, end.ended_at, end.state, end.next_attempt_at)
        for tick_id, number, end in finished
    )


def report_rows(reports: Sequence[RunReport]) -> tuple[Rows, Rows]:
    """``outcome_rows`` of reports' ``end``, without building those records (replay's)."""
    return _outcome_rows(
        (r.tick.id, r.attempt, r.result, _ended(r), r.decision.state, r.decision.next_attempt_at)
        for r in reports
    )


def _ended(report: RunReport) -> datetime:
    assert report.ended_at is not None, "a finished run has its end"
    return report.ended_at


def _outcome_rows(
    finished: Iterable[tuple[int, int, InvocationResult, datetime, TickState, datetime | None]],
) -> tuple[Rows, Rows]:
    attempt_rows, tick_rows = [], []
    for tick_id, number, result, ended_at, state, next_attempt_at in finished:
        payload, truncated = payload_text(result.payload)
        stamp = format_instant(ended_at)
        next_at = None if next_attempt_at is None else format_instant(next_attempt_at)
        attempt_rows.append(
            (
                stamp,
                result.duration_ms,
                _OUTCOME_TEXT[result.outcome],
                result.error_type,
                result.error_message,
                result.traceback,
                payload,
                int(truncated),
                result.logs or None,
                tick_id,
                number,
            )
        )
        failed = int(not result.succeeded)
        tick_rows.append((_STATE_TEXT[state], failed, next_at, stamp, tick_id))
    return attempt_rows, tick_rows
