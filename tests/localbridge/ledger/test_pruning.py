"""Pruning: finished runs go with their attempts and logs; the rest stays; the file shrinks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.ledger.connect import LedgerConnection
from localbridge.ledger.pruning import count_prunable, prune, size_of
from localbridge.ledger.store import Ledger
from localbridge.model import InvocationResult, Outcome
from localbridge.ticks import AttemptEnd, FunctionMark, NewTick, TickSource, TickState

T0 = datetime(2022, 12, 1, tzinfo=UTC)
DAY = timedelta(days=1)
LOGS = "x" * 20_000  # what a chatty run prints: pages that must go back to the disk


def run_once(ledger: Ledger, function: str, instant: datetime, state: TickState) -> int:
    [tick] = ledger.add_ticks([NewTick(function, instant, TickSource.SCHEDULE, instant)], instant)
    number = ledger.begin_attempt(tick.id, instant, 0.0)
    outcome = Outcome.SUCCEEDED if state is TickState.SUCCEEDED else Outcome.ERROR
    result = InvocationResult(outcome, 0.0, 1.0, logs=LOGS)
    ledger.finish_attempt(tick.id, number, AttemptEnd(result, instant, state))
    return tick.id


def test_finished_runs_before_the_instant_go_and_everything_else_stays(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger.open(path)
    try:
        old = [run_once(ledger, "daily", T0 + i * DAY, TickState.SUCCEEDED) for i in range(200)]
        dead = run_once(ledger, "daily", T0 - DAY, TickState.DEAD)
        failed = run_once(ledger, "invoked", T0, TickState.FAILED)
        [pending] = ledger.add_ticks([NewTick("daily", T0 - 2 * DAY, TickSource.SCHEDULE, T0)], T0)
        ledger.save_function_marks([FunctionMark("daily", "rate(1 day)", T0, T0 + 400 * DAY)])
        cutoff = T0 + 150 * DAY
        connection = LedgerConnection(path)
        try:
            assert count_prunable(connection, cutoff) == 151  # 150 succeeded, 1 failed
            before = size_of(connection)
            pruned = prune(connection, cutoff)
            after = size_of(connection)
        finally:
            connection.close()
        left = {tick.id for tick in ledger.find()}
    finally:
        ledger.close()
    assert (pruned.runs, pruned.attempts) == (151, 151)
    assert left == {dead, pending.id, *old[150:]}
    assert failed not in left
    assert after.free_pages == 0
    assert after.bytes < before.bytes * 0.5
    assert pruned.bytes_after == after.bytes < pruned.bytes_before


def test_a_tick_past_its_functions_mark_is_kept_so_the_schedule_still_sees_it(
    tmp_path: Path,
) -> None:
    # A replay of a future instant holds that (function, instant): pruning it
    # before the schedule gets there would let the schedule run it again.
    path = tmp_path / "ledger.db"
    ledger = Ledger.open(path)
    try:
        ahead = run_once(ledger, "daily", T0 + 10 * DAY, TickState.SUCCEEDED)
        run_once(ledger, "daily", T0 + DAY, TickState.SUCCEEDED)
        ledger.save_function_marks([FunctionMark("daily", "rate(1 day)", T0, T0 + 5 * DAY)])
        connection = LedgerConnection(path)
        try:
            pruned = prune(connection, T0 + 20 * DAY)
        finally:
            connection.close()
        assert [tick.id for tick in ledger.find()] == [ahead]
    finally:
        ledger.close()
    assert pruned.runs == 1


def test_an_interrupted_prune_stops_between_batches(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = Ledger.open(path)
    try:
        run_once(ledger, "daily", T0, TickState.SUCCEEDED)
        connection = LedgerConnection(path)
        try:
            pruned = prune(connection, T0 + DAY, should_stop=lambda: True)
        finally:
            connection.close()
        assert len(ledger.find()) == 1
    finally:
        ledger.close()
    assert pruned.runs == 0


def test_a_damaged_page_met_while_reading_is_named_damaged(tmp_path: Path) -> None:
    import sqlite3

    from localbridge.ledger.opening import describe

    path = tmp_path / "ledger.db"
    message = describe(path, sqlite3.DatabaseError("database disk image is malformed"))
    assert message.startswith(f"the ledger {path} is damaged")
    assert ".recover" in message
