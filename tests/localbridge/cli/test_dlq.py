"""The dead-letter queue from the command line: list, redrive, purge; pending runs."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from localbridge.ledger.store import Ledger
from localbridge.ticks import NewTick, TickSource, TickState
from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.runtime.harness import HOURLY, RAISES, write_project
from tests.support import PROCESS_START_S, python_env

T0 = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)


def with_ticks(project: Path, *ticks: tuple[str, int, TickState]) -> list[int]:
    """Record ticks (function, hours after T0, state) in the project's ledger; their ids."""
    ledger = Ledger.open(project / "l.db")
    try:
        new = [
            NewTick(name, T0 + timedelta(hours=hours), TickSource.SCHEDULE, T0)
            for name, hours, _ in ticks
        ]
        added = ledger.add_ticks(new, T0)
        for tick, (_, _, state) in zip(added, ticks, strict=True):
            ledger.set_state(tick.id, state, T0)
        return [tick.id for tick in added]
    finally:
        ledger.close()


def states(project: Path) -> dict[int, TickState]:
    ledger = Ledger.open(project / "l.db")
    try:
        return {tick.id: tick.state for tick in ledger.find()}
    finally:
        ledger.close()


def test_redrive_of_a_removed_function_says_so_and_leaves_the_tick_dead(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    (gone,) = with_ticks(project, ("removed_job", 0, TickState.DEAD))
    done = subprocess.run(
        [sys.executable, "-m", "localbridge", "dlq", "redrive", "--ledger", "l.db",
         "--mode", "thread"],
        cwd=project, env=python_env(), capture_output=True, text=True, timeout=PROCESS_START_S,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "'removed_job'" in done.stderr
    assert f"dlq purge --id {gone}" in done.stderr
    assert "Traceback" not in done.stderr
    assert states(project) == {gone: TickState.DEAD}
    assert str(gone) in localbridge("dlq", "list", "--ledger", "l.db", cwd=project).stdout


def test_redrive_of_a_removed_function_by_id_also_says_so(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    (gone,) = with_ticks(project, ("removed_job", 0, TickState.DEAD))
    done = localbridge("dlq", "redrive", "--id", str(gone), "--ledger", "l.db", "--mode", "thread",
                       cwd=project)  # fmt: skip
    assert done.returncode == 2
    assert "'removed_job'" in done.stderr
    assert states(project) == {gone: TickState.DEAD}


def test_purge_by_id_by_function_and_all_with_yes(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ids = with_ticks(
        project,
        ("a", 0, TickState.DEAD),
        ("a", 1, TickState.DEAD),
        ("b", 0, TickState.DEAD),
        ("b", 1, TickState.DEAD),
        ("b", 2, TickState.SUCCEEDED),
    )
    done = localbridge(
        "dlq", "purge", "--id", str(ids[0]), "--yes", "--ledger", "l.db", cwd=project
    )
    assert done.returncode == 0, done.stderr
    assert "purged 1 dead tick" in done.stdout
    assert ids[0] not in states(project)
    assert (
        localbridge("dlq", "purge", "a", "--yes", "--ledger", "l.db", cwd=project).returncode == 0
    )
    assert set(states(project)) == set(ids[2:])
    assert (
        localbridge("dlq", "purge", "--all", "--yes", "--ledger", "l.db", cwd=project).returncode
        == 0
    )
    assert states(project) == {ids[4]: TickState.SUCCEEDED}  # only dead ticks go


def test_purge_asks_first_and_does_nothing_unless_told_yes(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ids = with_ticks(project, ("a", 0, TickState.DEAD))

    def purge(answer: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "localbridge", "dlq", "purge", "--all", "--ledger", "l.db"],
            cwd=project, env=python_env(), input=answer, capture_output=True, text=True,
            timeout=PROCESS_START_S,
        )  # fmt: skip

    refused = purge("n\n")
    assert refused.returncode == 1
    assert "purge 1 dead tick" in refused.stdout
    assert ids[0] in states(project)
    assert purge("y\n").returncode == 0
    assert states(project) == {}


def test_purge_needs_a_target_and_an_unknown_id_is_named(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    with_ticks(project, ("a", 0, TickState.SUCCEEDED))
    no_target = localbridge("dlq", "purge", "--yes", "--ledger", "l.db", cwd=project)
    assert no_target.returncode == 2
    assert "--all" in no_target.stderr
    unknown = localbridge("dlq", "purge", "--id", "99", "--yes", "--ledger", "l.db", cwd=project)
    assert unknown.returncode == 2
    assert "99" in unknown.stderr


def test_runs_state_pending_shows_what_waits(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    ids = with_ticks(project, ("a", 0, TickState.PENDING), ("a", 1, TickState.SUCCEEDED))
    done = localbridge("runs", "--state", "pending", "--ledger", "l.db", cwd=project)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == [str(ids[0])]


def attempts_per_tick(project: Path, function: str) -> list[int]:
    ledger = Ledger.open(project / "l.db")
    try:
        return [tick.attempts for tick in ledger.find(function)]
    finally:
        ledger.close()


def test_replay_of_a_failing_job_fails_fast_with_retries_0(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", RAISES)
    done = localbridge(
        "replay", "--from", "2022-12-19T00:00:00Z", "--to", "2022-12-19T00:02:00Z",
        "--retries", "0", "--ledger", "l.db", "--mode", "thread", cwd=project,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "2 dead" in done.stdout
    assert attempts_per_tick(project, "raises") == [1, 1]


def test_replay_retries_after_the_retry_delay_given(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", RAISES)
    done = localbridge(
        "replay", "--from", "2022-12-19T00:00:00Z", "--to", "2022-12-19T00:01:00Z",
        "--retry-delay", "0.05", "--ledger", "l.db", "--mode", "thread", cwd=project,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert attempts_per_tick(project, "raises") == [3]  # AWS's 2 retries, kept by default


def test_a_retry_delay_past_the_maximum_event_age_is_refused(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", RAISES)
    done = localbridge(
        "replay", "--from", "2022-12-19T00:00:00Z", "--to", "2022-12-19T00:01:00Z",
        "--retry-delay", "86400", "--ledger", "l.db", "--mode", "thread", cwd=project,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--retry-delay" in done.stderr


def test_redrive_runs_the_dead_ticks_of_functions_in_the_app(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    (dead,) = with_ticks(project, ("hourly", 0, TickState.DEAD))
    done = localbridge("dlq", "redrive", "--ledger", "l.db", "--mode", "thread", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "1 succeeded" in done.stdout
    assert states(project) == {dead: TickState.SUCCEEDED}
