"""A replay over a pruned window runs none of the pruned instants and counts them as handled.

Real ``python -m localbridge`` processes on a throwaway project and ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.ledger.store import Ledger
from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.runtime.harness import EVERY_MINUTE, write_project

T0 = datetime(2022, 12, 19, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def replay(project: Path, through_minute: int) -> tuple[int, str]:
    end = f"2022-12-19T00:{through_minute:02}:00Z"
    done = localbridge(
        "replay", "--from", "2022-12-19T00:00:00Z", "--to", end,
        "--ledger", "l.db", "--mode", "thread", cwd=project,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def instants(project: Path) -> list[datetime]:
    ledger = Ledger.open(project / "l.db")
    try:
        return sorted(t.scheduled_at for t in ledger.find("every_minute"))
    finally:
        ledger.close()


def test_a_replay_over_a_pruned_window_runs_nothing_there_and_succeeds(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    assert replay(project, 10)[0] == 0
    pruned = localbridge(
        "prune", "--before", "2022-12-19T00:05:30Z", "--ledger", "l.db", cwd=project
    )
    assert pruned.returncode == 0, pruned.stderr
    assert instants(project) == [T0 + minute * MINUTE for minute in range(6, 11)]

    code, out = replay(project, 12)
    assert code == 0, out
    # 00:01-00:05 ran and were pruned: not run again; 00:11 and 00:12 are new.
    assert instants(project) == [T0 + minute * MINUTE for minute in range(6, 13)]
    assert "replay: 7 succeeded (5 had already succeeded)" in out
    assert "(5 handled before and pruned since: not run again)" in out
    assert "pending" not in out
