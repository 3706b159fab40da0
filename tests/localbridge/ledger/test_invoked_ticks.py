"""Invocations and scheduled instants in one ledger: neither ever holds the other's place.

A (function, instant) is unique among the scheduled instants (schedule,
catch-up, replay, redrive) and, apart, among the invocations (``invoke``, the
Invoke API); a ledger of the schema before that keeps its rows and its
invocations are told apart.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.instants import format_instant
from localbridge.ledger.connect import LedgerConnection
from localbridge.ledger.pruning import prune
from localbridge.ledger.schema import MIGRATIONS
from localbridge.ledger.store import Ledger
from localbridge.model import InvocationResult, Outcome
from localbridge.ticks import (
    AttemptEnd,
    AttemptOutcome,
    FunctionMark,
    NewTick,
    TickSource,
    TickState,
)

T = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)
JUST_BEFORE = T - timedelta(microseconds=1)


def tick(source: TickSource, instant: datetime = T) -> NewTick:
    return NewTick("daily", instant, source, instant)


def finish(ledger: Ledger, tick_id: int, state: TickState) -> None:
    number = ledger.begin_attempt(tick_id, T, 0.0)
    outcome = Outcome.SUCCEEDED if state is TickState.SUCCEEDED else Outcome.ERROR
    ended = AttemptEnd(InvocationResult(outcome, 0.0, 1.0), T, state)
    ledger.finish_attempt(tick_id, number, ended)


def test_an_invocation_and_the_scheduled_tick_of_one_instant_are_two_ticks(
    tmp_path: Path,
) -> None:
    ledger = Ledger.open(tmp_path / "l.db")
    try:
        (invoked,) = ledger.add_ticks([tick(TickSource.INVOKE)], T)
        (scheduled,) = ledger.add_ticks([tick(TickSource.SCHEDULE)], T)
        assert ledger.add_ticks([tick(TickSource.EVENT), tick(TickSource.REPLAY)], T) == []
        assert ledger.ticks_between(["daily"], JUST_BEFORE, T) == [scheduled]
        assert ledger.ticks_between(["daily"], JUST_BEFORE, T, invoked=True) == [invoked]
        finish(ledger, invoked.id, TickState.FAILED)
        # What a replay counts as done or to do is the scheduled instant's alone.
        assert ledger.states_between(["daily"], JUST_BEFORE, T) == {TickState.PENDING: 1}
        assert [t.source for t in ledger.find("daily")] == [TickSource.INVOKE, TickSource.SCHEDULE]
    finally:
        ledger.close()


INVOKED_COLUMN = 5
"""The schema version before the one that set invocations apart."""


def test_a_ledger_of_the_schema_before_keeps_its_rows_and_frees_the_invoked_instants(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l.db"
    stamp = format_instant(T)
    with sqlite3.connect(path) as db:
        for migration in MIGRATIONS[:INVOKED_COLUMN]:
            db.executescript(migration + ";")
        db.execute(f"PRAGMA user_version = {INVOKED_COLUMN}")
        for function, source in [("daily", "invoke"), ("hourly", "schedule"), ("api", "event")]:
            db.execute(
                "INSERT INTO ticks (function, scheduled_at, state, source, attempts, enqueued_at, "
                "created_at, updated_at, request_id) VALUES (?, ?, 'succeeded', ?, 1, ?, ?, ?, ?)",
                (function, stamp, source, stamp, stamp, stamp, f"req-{function}"),
            )
        db.execute(
            "INSERT INTO attempts (tick_id, number, started_at, lateness_ms, outcome, logs) "
            "VALUES (1, 1, ?, 0, 'succeeded', 'START')",
            (stamp,),
        )
    ledger = Ledger.open(path)
    try:
        kept = [(t.id, t.function, t.source, t.request_id) for t in ledger.find()]
        assert kept == [
            (1, "daily", TickSource.INVOKE, "req-daily"),
            (2, "hourly", TickSource.SCHEDULE, "req-hourly"),
            (3, "api", TickSource.EVENT, "req-api"),
        ]
        assert [(a.number, a.outcome) for a in ledger.attempts(1)] == [
            (1, AttemptOutcome.SUCCEEDED)
        ]
        # The invocations no longer hold their instants; the scheduled tick still does.
        new = [tick(TickSource.SCHEDULE), NewTick("api", T, TickSource.SCHEDULE, T)]
        assert [t.function for t in ledger.add_ticks(new, T)] == ["daily", "api"]
        assert ledger.add_ticks([NewTick("hourly", T, TickSource.SCHEDULE, T)], T) == []
        assert ledger.add_ticks([tick(TickSource.INVOKE)], T) == []
    finally:
        ledger.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        listed = db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'ticks'")
        indexes = {row[0] for row in listed}
        assert {"ticks_by_state", "ticks_by_function_id", "ticks_by_scheduled"} <= indexes


def test_an_invocation_ahead_of_the_schedule_is_pruned_a_replay_ahead_is_kept(
    tmp_path: Path,
) -> None:
    # A replay's tick ahead of the schedule keeps `run` from firing that instant
    # again; an invocation's holds no scheduled instant, so nothing keeps it.
    path = tmp_path / "l.db"
    ledger = Ledger.open(path)
    try:
        (invoked,) = ledger.add_ticks([tick(TickSource.INVOKE, T + 10 * DAY)], T)
        (replayed,) = ledger.add_ticks([tick(TickSource.REPLAY, T + 10 * DAY)], T)
        for tick_id in (invoked.id, replayed.id):
            finish(ledger, tick_id, TickState.SUCCEEDED)
        ledger.save_function_marks([FunctionMark("daily", "rate(1 day)", T, T + DAY)])
        connection = LedgerConnection(path)
        try:
            pruned = prune(connection, T + 20 * DAY)
        finally:
            connection.close()
        assert pruned.runs == 1
        assert [t.id for t in ledger.find()] == [replayed.id]
    finally:
        ledger.close()
