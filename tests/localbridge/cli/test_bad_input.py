"""Bad ledgers, bad settings, bad numbers: one line saying what and what to do, exit 2.

Each case runs the real CLI in a subprocess; none may end in a traceback.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.runtime.harness import HOURLY, write_project


def garbage(path: Path) -> Path:
    path.write_bytes(b"this is not an SQLite file " * 8)
    return path


def another_database(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE result (id INTEGER PRIMARY KEY, body TEXT)")
    db.close()
    return path


def newer_ledger(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE ticks (id INTEGER)")
        db.execute("PRAGMA user_version = 99")
    db.close()
    return path


def read_only_directory(path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    path.parent.chmod(0o555)
    return path


LEDGERS = {
    "garbage": (garbage, "not a localbridge ledger"),
    "another SQLite database": (another_database, "not a localbridge ledger"),
    "a newer schema": (newer_ledger, "newer than this localbridge"),
    "a directory": (lambda path: path.parent, "is not a file"),
    "a device": (lambda path: Path("/dev/null"), "is not a file"),
    "a place nothing can be created": (lambda path: Path("/proc/self/l.db"), "/proc/self/l.db"),
    "a read-only directory": (read_only_directory, "ledger"),
}


def assert_one_clear_line(done: Any, *named: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for text in named:
        assert text in lines[0]


@pytest.mark.parametrize("case", LEDGERS)
@pytest.mark.parametrize(
    "command", [["runs"], ["dlq", "list"], ["invoke", "hourly", "--mode", "thread"]]
)
def test_a_ledger_that_cannot_be_used_is_one_line_and_exit_2(
    tmp_path: Path, case: str, command: list[str]
) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    make, says = LEDGERS[case]
    (tmp_path / "ledgers").mkdir()
    ledger = make(tmp_path / "ledgers" / "l.db")
    done = localbridge(*command, "--ledger", str(ledger), cwd=project)
    if done.returncode == 0 and command[0] != "invoke":
        assert not ledger.is_file() or case == "a read-only directory"  # nothing to read yet
        return
    assert_one_clear_line(done, says, "--ledger")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("retry_delays", [float("nan")]),
        ("retry_delays", [1e308]),
        ("retry_delays", [float("inf")]),
        ("retry_delays", [60, -1]),
        ("maximum_event_age", float("nan")),
        ("maximum_event_age", 1e308),
        ("maximum_retry_attempts", 1e308),
        ("max_concurrency", float("inf")),
    ],
)
def test_a_non_finite_or_huge_setting_is_named(tmp_path: Path, setting: str, value: Any) -> None:
    settings = {"defaults": {setting: value}}
    project = write_project(tmp_path / "p", HOURLY, localbridge=settings)
    done = localbridge("invoke", "hourly", "--ledger", "l.db", "--mode", "thread", cwd=project)
    assert_one_clear_line(done, f"stages.local.localbridge.defaults.{setting}")


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--speed", "nan"],
        ["run", "--speed", "inf"],
        ["run", "--speed", "1e308"],
        ["run", "--grace", "nan"],
        ["run", "--port", "99999"],
        ["run", "--clock-start", "0001-01-01T00:00:00Z"],
        ["invoke", "hourly", "--time", "9999-12-31T23:59:59Z"],
        ["next", "rate(1 minute)", "-n", "99999999999"],
    ],
)
def test_a_number_or_time_out_of_range_is_refused_by_name(tmp_path: Path, args: list[str]) -> None:
    project = write_project(tmp_path / "p", HOURLY)
    done = (
        localbridge(*args, "--ledger", "l.db", cwd=project)
        if args[0] != "next"
        else (localbridge(*args, cwd=project))
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert args[-2] in done.stderr
