"""The run ledger: unique ticks, attempts, recovery, migrations, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localbridge.instants import format_instant
from localbridge.ledger.schema import MIGRATIONS, LedgerError
from localbridge.ledger.store import Ledger
from localbridge.model import InvocationResult, Outcome
from localbridge.ticks import (
    PAYLOAD_LIMIT,
    AttemptEnd,
    AttemptOutcome,
    Fired,
    FunctionMark,
    NewTick,
    TickSource,
    TickState,
)

T0 = datetime(2022, 12, 19, 0, 5, tzinfo=UTC)


def open_ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(tmp_path / "ledger.db")


def scheduled(function: str, instant: datetime) -> NewTick:
    return NewTick(function, instant, TickSource.SCHEDULE, instant)


def result(outcome: Outcome, payload: object = None) -> InvocationResult:
    error = None if outcome is Outcome.SUCCEEDED else "Boom"
    return InvocationResult(outcome, 100.0, 100.25, payload, error, "it broke" if error else None)


def test_a_function_and_instant_is_recorded_once(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    first = ledger.add_ticks([scheduled("daily", T0), scheduled("weekly", T0)], T0)
    again = ledger.add_ticks([scheduled("daily", T0)], T0)
    assert [tick.function for tick in first] == ["daily", "weekly"]
    assert again == []
    assert first[0].state is TickState.PENDING
    assert first[0].scheduled_at == T0


def test_an_attempt_is_recorded_before_and_after_the_run(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    (tick,) = ledger.add_ticks([scheduled("daily", T0)], T0)
    number = ledger.begin_attempt(tick.id, T0, lateness_ms=1.5)
    running = ledger.get(tick.id)
    assert running is not None
    assert (number, running.state, running.attempts) == (1, TickState.RUNNING, 1)
    end = AttemptEnd(result(Outcome.SUCCEEDED, {"count": 3}), T0, TickState.SUCCEEDED)
    ledger.finish_attempt(tick.id, number, end)
    (attempt,) = ledger.attempts(tick.id)
    assert attempt.outcome is AttemptOutcome.SUCCEEDED
    assert attempt.payload == '{"count": 3}'
    assert attempt.duration_ms == pytest.approx(250.0)
    assert attempt.lateness_ms == 1.5
    assert ledger.last_states() == {"daily": TickState.SUCCEEDED}


def test_failures_count_and_next_attempt_is_kept(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    (tick,) = ledger.add_ticks([scheduled("daily", T0)], T0)
    number = ledger.begin_attempt(tick.id, T0, 0.0)
    retry_at = T0 + timedelta(minutes=1)
    ledger.finish_attempt(
        tick.id, number, AttemptEnd(result(Outcome.TIMEOUT), T0, TickState.RETRYING, retry_at)
    )
    stored = ledger.get(tick.id)
    assert stored is not None
    assert (stored.state, stored.failures, stored.next_attempt_at) == (
        TickState.RETRYING,
        1,
        retry_at,
    )
    assert ledger.unfinished() == [stored]
    assert ledger.attempts(tick.id)[0].error_type == "Boom"


def test_a_large_payload_is_truncated_at_64_kib(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    (tick,) = ledger.add_ticks([scheduled("daily", T0)], T0)
    number = ledger.begin_attempt(tick.id, T0, 0.0)
    big = {"data": "x" * (PAYLOAD_LIMIT * 2)}
    ledger.finish_attempt(
        tick.id, number, AttemptEnd(result(Outcome.SUCCEEDED, big), T0, TickState.SUCCEEDED)
    )
    (attempt,) = ledger.attempts(tick.id)
    assert attempt.payload is not None
    assert len(attempt.payload) == PAYLOAD_LIMIT
    assert attempt.payload_truncated


def test_recovery_closes_interrupted_attempts_without_using_a_retry(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger.open(path)
    (tick,) = ledger.add_ticks([scheduled("daily", T0)], T0)
    ledger.begin_attempt(tick.id, T0, 0.0)
    ledger.close()  # as if the process died here
    reopened = Ledger.open(path)
    assert reopened.recover_interrupted(T0 + timedelta(seconds=5)) == 1
    stored = reopened.get(tick.id)
    assert stored is not None
    assert (stored.state, stored.failures) == (TickState.PENDING, 0)
    (attempt,) = reopened.attempts(tick.id)
    assert attempt.outcome is AttemptOutcome.INTERRUPTED


def test_reopen_makes_dead_ticks_pending_but_never_succeeded_ones(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    dead, done = ledger.add_ticks([scheduled("daily", T0), scheduled("weekly", T0)], T0)
    ledger.set_state(dead.id, TickState.DEAD, T0)
    ledger.set_state(done.id, TickState.SUCCEEDED, T0)
    later = T0 + timedelta(days=1)
    reopened = ledger.reopen([dead.id, done.id], TickSource.REDRIVE, later)
    assert [(t.id, t.state, t.source, t.enqueued_at) for t in reopened] == [
        (dead.id, TickState.PENDING, TickSource.REDRIVE, later)
    ]


def test_function_marks_only_move_forward(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    ledger.save_function_marks([FunctionMark("daily", "rate(1 day)", T0, T0 + timedelta(hours=2))])
    ledger.save_function_marks([FunctionMark("daily", "rate(1 day)", T0, T0)])
    assert ledger.function_marks()["daily"].scheduled_through == T0 + timedelta(hours=2)


def test_find_filters_by_function_state_and_time(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    instants = [T0 + timedelta(days=d) for d in range(4)]
    ticks = ledger.add_ticks([scheduled("daily", t) for t in instants], T0)
    ledger.set_state(ticks[1].id, TickState.DEAD, T0)
    assert [t.id for t in ledger.find(state=TickState.DEAD)] == [ticks[1].id]
    assert [t.scheduled_at for t in ledger.find("daily", since=instants[2])] == instants[2:]
    assert [t.scheduled_at for t in ledger.find(limit=2)] == instants[2:]
    assert ledger.find("weekly") == []


def test_the_schema_is_migrated_once_and_states_are_stored_as_values(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger.open(path).add_ticks([scheduled("daily", T0)], T0)
    Ledger.open(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT state, source FROM ticks").fetchall() == [("pending", "schedule")]


def test_a_ledger_of_the_first_schema_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO ticks (function, scheduled_at, state, source, enqueued_at, created_at, "
            "updated_at) VALUES ('daily', ?, 'dead', 'schedule', ?, ?, ?)",
            (format_instant(T0),) * 4,
        )
        db.execute("INSERT INTO attempts (tick_id, number, started_at, lateness_ms) "
                   "VALUES (1, 1, ?, 0)", (format_instant(T0),))  # fmt: skip
    ledger = Ledger.open(path)
    try:
        [tick] = ledger.find("daily")
        [attempt] = ledger.attempts(tick.id)
    finally:
        ledger.close()
    assert (tick.state, tick.request_id, tick.event_id) == (TickState.DEAD, None, None)
    assert attempt.logs is None


def test_new_ticks_get_their_delivery_ids_and_attempts_keep_their_logs(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "ledger.db")
    try:
        [tick] = ledger.add_ticks([scheduled("daily", T0)], T0)
        number = ledger.begin_attempt(tick.id, T0, 0.0)
        result = InvocationResult(Outcome.ERROR, 0.0, 1.0, error_type="E", logs="START ...\n")
        ledger.finish_attempt(tick.id, number, AttemptEnd(result, T0, TickState.RETRYING))
        [stored] = ledger.find("daily")
        [attempt] = ledger.attempts(tick.id)
    finally:
        ledger.close()
    assert stored.request_id == tick.request_id
    assert stored.event_id == tick.event_id
    assert len({tick.request_id, tick.event_id}) == 2
    assert attempt.logs == "START ...\n"


def test_a_ledger_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(LedgerError, match="newer than this localbridge"):
        Ledger.open(path)


def test_two_processes_starting_one_tick_at_once_get_distinct_attempt_numbers(
    tmp_path: Path,
) -> None:
    """Two synchronous invocations of one second's tick (an ``invoke`` beside the
    Invoke API) each read the tick before either began its attempt: both held
    ``attempts == 0``. Each must still get its own attempt number."""
    first_process = open_ledger(tmp_path)
    second_process = open_ledger(tmp_path)
    (tick,) = first_process.add_ticks([scheduled("daily", T0)], T0)
    stale_copy = second_process.get(tick.id)
    assert stale_copy is not None
    first = first_process.begin_attempts([tick], T0, [0.0])
    second = second_process.begin_attempts([stale_copy], T0, [0.0])
    assert (first, second) == ([1], [2])
    assert [attempt.number for attempt in first_process.attempts(tick.id)] == [1, 2]
    current = first_process.get(tick.id)
    assert current is not None
    assert current.attempts == 2


def test_attempts_opened_but_never_started_are_given_back(tmp_path: Path) -> None:
    ledger = open_ledger(tmp_path)
    ticks = ledger.add_ticks([scheduled("f", T0 + timedelta(minutes=n)) for n in range(3)], T0)
    numbers = ledger.begin_attempts(ticks, T0, [0.0] * 3)
    end = AttemptEnd(result(Outcome.SUCCEEDED), T0, TickState.SUCCEEDED)
    ledger.finish_attempt(ticks[0].id, numbers[0], end)

    # A stop came after the first ran: the other two never started.
    ledger.abandon_attempts([(t.id, n) for t, n in zip(ticks, numbers, strict=True)], T0)

    first, *rest = (ledger.get(t.id) for t in ticks)
    assert first is not None
    assert first.state is TickState.SUCCEEDED  # what ran stays
    assert [len(ledger.attempts(t.id)) for t in ticks] == [1, 0, 0]
    assert [(t.state, t.attempts) for t in rest if t] == [(TickState.PENDING, 0)] * 2
    assert ledger.begin_attempts(ticks[1:], T0, [0.0, 0.0]) == [1, 1]  # numbered afresh


def test_a_fired_tick_is_recorded_after_its_run_started_and_its_outcome_lands_on_its_attempt(
    tmp_path: Path,
) -> None:
    """A tick written ahead started at its instant as attempt 1, but a replay of that
    instant in another process began attempt 1 before the fire was recorded:
    the fire gets attempt 2, and its outcome goes to attempt 2, not to the other's."""
    runtime = open_ledger(tmp_path)
    other_process = open_ledger(tmp_path)
    (tick,) = runtime.add_ticks([scheduled("daily", T0)], T0)
    (other,) = other_process.begin_attempts([tick], T0, [0.0])
    mark = FunctionMark("daily", "cron(5 0 * * ? *)", T0, T0)
    runtime.finish_and_begin([], [], T0, [], fired=[Fired([tick], T0, [0.25], [mark])])
    ended = AttemptEnd(result(Outcome.SUCCEEDED, {"n": 1}), T0, TickState.SUCCEEDED)
    runtime.finish_attempts([(tick.id, 1, ended)])
    attempts = runtime.attempts(tick.id)
    assert other == 1
    assert [(a.number, a.lateness_ms, a.payload) for a in attempts] == [
        (1, 0.0, None),
        (2, 0.25, '{"n": 1}'),
    ]
    assert runtime.function_marks()["daily"].scheduled_through == T0
