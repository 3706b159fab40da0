"""A pruned scheduled instant stays handled: recording it again records (and runs) nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.ledger.connect import LedgerConnection
from localbridge.ledger.pruning import prune, pruned_spans
from localbridge.ledger.store import Ledger
from localbridge.ticks import FunctionMark, NewTick, TickSource, TickState
from tests.localbridge.ledger.test_pruning import run_once

T0 = datetime(2022, 12, 19, tzinfo=UTC)
DAY = timedelta(days=1)


def scheduled(function: str, instant: datetime) -> NewTick:
    return NewTick(function, instant, TickSource.SCHEDULE, instant)


def pruned_ledger(path: Path, days: int, before: datetime) -> None:
    ledger = Ledger.open(path)
    try:
        for day in range(days):
            run_once(ledger, "daily", T0 + day * DAY, TickState.SUCCEEDED)
        invoked = NewTick("daily", T0 + 10 * DAY, TickSource.INVOKE, T0)
        [tick] = ledger.add_ticks([invoked], T0)
        ledger.set_state(tick.id, TickState.SUCCEEDED, T0)
        ledger.save_function_marks([FunctionMark("daily", "rate(1 day)", T0, T0 + 20 * DAY)])
    finally:
        ledger.close()
    connection = LedgerConnection(path)
    try:
        prune(connection, before)
    finally:
        connection.close()


def test_a_pruned_instant_is_not_recorded_again_and_others_are(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    pruned_ledger(path, 4, T0 + 11 * DAY)
    ledger = Ledger.open(path)
    try:
        again = [scheduled("daily", T0 + day * DAY) for day in range(6)]
        added = ledger.add_ticks(again, T0 + 6 * DAY)
        # Days 0-3 ran and were pruned: handled. Days 4 and 5 never ran: recorded.
        assert [t.scheduled_at for t in added] == [T0 + 4 * DAY, T0 + 5 * DAY]
        # Another function's instants, and invocations of pruned instants, are apart.
        other = [scheduled("hourly", T0), NewTick("daily", T0, TickSource.INVOKE, T0)]
        assert len(ledger.add_ticks(other, T0)) == 2
    finally:
        ledger.close()


def test_the_span_remembers_only_scheduled_ticks(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    # The invocation at day 10 is pruned too, but holds no scheduled instant.
    pruned_ledger(path, 3, T0 + 11 * DAY)
    connection = LedgerConnection(path)
    try:
        with connection.transaction() as db:
            assert pruned_spans(db) == {"daily": (T0, T0 + 2 * DAY)}
    finally:
        connection.close()


def test_a_replay_records_no_pruned_instant(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    pruned_ledger(path, 2, T0 + 11 * DAY)
    ledger = Ledger.open(path)
    try:
        replayed = [NewTick("daily", T0 + day * DAY, TickSource.REPLAY, T0) for day in range(3)]
        opened = ledger.finish_and_start([], replayed, T0, [0.0] * 3)
        assert [o is not None for o in opened] == [False, False, True]
    finally:
        ledger.close()
