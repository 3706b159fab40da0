"""Retention beside a running runtime: old runs go, and a pruned tick never fires again."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

from localbridge.ledger.connect import LedgerConnection
from localbridge.ledger.pruning import prune
from localbridge.ledger.store import Ledger
from localbridge.runtime.grace import RecentRows
from localbridge.runtime.retention import Retention
from localbridge.ticks import NewTick, TickSource, TickState
from tests.localbridge.runtime.harness import (
    EVERY_MINUTE,
    T0,
    manual_clock,
    started_runtime,
    wait_for_state,
    write_project,
)
from tests.support import wait_for

MINUTE = timedelta(minutes=1)
FIRST = T0.replace(second=0) + MINUTE


def test_pruned_ticks_never_fire_again_after_a_restart(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    path = tmp_path / "l.db"
    clock = manual_clock()
    with started_runtime(project, path, clock) as runtime:
        for minute in range(3):
            clock.set(FIRST + minute * MINUTE)
            wait_for_state(runtime.ledger, "every_minute", FIRST + minute * MINUTE,
                           TickState.SUCCEEDED)  # fmt: skip
    connection = LedgerConnection(path)
    try:
        assert prune(connection, FIRST + 3 * MINUTE).runs == 3
    finally:
        connection.close()
    # Back half a minute later, with catch-up of everything missed (the default).
    back = manual_clock(FIRST + 2 * MINUTE + timedelta(seconds=30))
    with started_runtime(project, path, back) as runtime:
        back.set(FIRST + 3 * MINUTE)
        wait_for_state(runtime.ledger, "every_minute", FIRST + 3 * MINUTE, TickState.SUCCEEDED)
        assert runtime.dispatcher.wait_idle(10)
        instants = [tick.scheduled_at for tick in runtime.ledger.find("every_minute")]
    assert instants == [FIRST + 3 * MINUTE]


def test_the_retention_service_prunes_as_the_clock_moves(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    clock = manual_clock()
    # No grace: every run the clock leaves behind goes at once.
    no_grace = RecentRows(timedelta(0))
    retention = Retention(keep=timedelta(minutes=2), check_every_s=0.01, recent=no_grace)
    with started_runtime(project, tmp_path / "l.db", clock) as runtime:
        retention.start(runtime)
        try:
            for minute in range(4):
                clock.set(FIRST + minute * MINUTE)
                wait_for_state(runtime.ledger, "every_minute", FIRST + minute * MINUTE,
                               TickState.SUCCEEDED)  # fmt: skip
            assert len(runtime.ledger.find("every_minute")) == 4  # nothing older than 2 min yet
            clock.set(FIRST + 3 * MINUTE + 2 * 60 * MINUTE)  # two hours on: a prune is due
            wait_for(
                lambda: (
                    [t.scheduled_at for t in runtime.ledger.find("every_minute")][:1] != [FIRST]
                ),
                10,
                what="the runs older than two minutes to be pruned",
            )
        finally:
            retention.stop()


class WallClock:
    """Wall time the test moves; says when retention first read it (it sampled the ids)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.read = threading.Event()

    def __call__(self) -> float:
        self.read.set()
        return self.seconds


def old_run(ledger: Ledger, instant: datetime) -> int:
    """A finished run of a long-past instant, as a replay beside ``run`` records it."""
    [tick] = ledger.add_ticks([NewTick("replayed", instant, TickSource.REPLAY, instant)], instant)
    ledger.set_state(tick.id, TickState.SUCCEEDED, instant)
    return tick.id


def test_retention_spares_runs_recorded_within_the_grace_whatever_their_instant(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    wall = WallClock()
    recent = RecentRows(timedelta(hours=1), wall, sample_every_s=1.0)
    retention = Retention(keep=timedelta(minutes=2), check_every_s=0.01, recent=recent)
    long_ago = T0 - timedelta(days=365)
    with started_runtime(project, tmp_path / "l.db", manual_clock()) as runtime:
        earlier = old_run(runtime.ledger, long_ago)
        retention.start(runtime)
        try:
            assert wall.read.wait(10)  # the ids as of wall time 0 are known
            just_now = old_run(runtime.ledger, long_ago + timedelta(minutes=1))
            wall.seconds = 2 * 3600.0  # two hours on: the first run is past the grace

            def ids() -> set[int]:
                return {tick.id for tick in runtime.ledger.find("replayed")}

            wait_for(lambda: earlier not in ids(), 10, what="the run of two hours ago to go")
            assert just_now in ids()  # written moments before: spared, though a year old
            wall.seconds = 4 * 3600.0
            wait_for(lambda: not ids(), 10, what="the spared run to go once past the grace")
        finally:
            retention.stop()
