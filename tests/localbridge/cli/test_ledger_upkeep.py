"""prune, stats, and a damaged ledger named as such by the commands that read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localbridge.cli.main import main
from localbridge.ledger.store import Ledger
from localbridge.ticks import NewTick, TickSource, TickState

T0 = datetime(2022, 12, 1, tzinfo=UTC)


def ledger_with_runs(path: Path, count: int) -> None:
    ledger = Ledger.open(path)
    try:
        instants = [T0 + timedelta(hours=i) for i in range(count)]
        ticks = ledger.add_ticks([NewTick("f", t, TickSource.SCHEDULE, t) for t in instants], T0)
        for tick in ticks[:-1]:
            ledger.set_state(tick.id, TickState.SUCCEEDED, T0)
        ledger.set_state(ticks[-1].id, TickState.DEAD, T0)
    finally:
        ledger.close()


def project(root: Path, retention: object) -> Path:
    (root / ".chalice").mkdir(parents=True)
    stage = {"localbridge": {"retention_days": retention}}
    config = {"version": "2.0", "app_name": "t", "stages": {"local": stage}}
    (root / ".chalice" / "config.json").write_text(json.dumps(config))
    return root


def test_prune_removes_finished_runs_and_keeps_dead_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "l.db"
    ledger_with_runs(path, 48)
    before = (T0 + timedelta(days=3)).isoformat()
    assert main(["prune", "--before", before, "--ledger", str(path)]) == 0
    assert "pruned 47 finished run(s)" in capsys.readouterr().out
    ledger = Ledger.open(path)
    try:
        assert [tick.state for tick in ledger.find()] == [TickState.DEAD]
    finally:
        ledger.close()


def test_stats_shows_the_size_and_what_retention_will_remove(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "l.db"
    ledger_with_runs(path, 10)
    root = project(tmp_path / "p", 30)
    args = ["stats", "--ledger", str(path), "--project", str(root)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "9 succeeded" in out
    assert "30 day(s)" in out
    assert "to prune   9 finished run(s)" in out  # 2022 is more than 30 days ago
    assert main([*args, "--before", (T0 + timedelta(hours=4, minutes=1)).isoformat()]) == 0
    assert "to prune   5 finished run(s)" in capsys.readouterr().out


def damage(path: Path) -> None:
    """Overwrite a page in the middle of the file, as a failing disk would."""
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle : middle + page] = b"\xa5" * page
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("command", [["runs"], ["dlq", "list"], ["logs", "f"]])
def test_a_damaged_ledger_is_named_damaged_and_the_reading_command_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = tmp_path / "l.db"
    ledger_with_runs(path, 2000)
    damage(path)
    assert main([*command, "--ledger", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"the ledger {path} is damaged" in err
    assert "Traceback" not in err


HOSTILE = "boom\x1b]0;owned\x07\x1b[2J\rhidden"


def test_a_jobs_control_characters_are_shown_escaped_by_runs_dlq_list_and_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from localbridge.model import InvocationResult, Outcome
    from localbridge.ticks import AttemptEnd

    path = tmp_path / "l.db"
    ledger = Ledger.open(path)
    try:
        [tick] = ledger.add_ticks([NewTick("f", T0, TickSource.SCHEDULE, T0)], T0)
        number = ledger.begin_attempt(tick.id, T0, 0.0)
        result = InvocationResult(
            Outcome.ERROR, 0.0, 1.0, error_type="E", error_message=HOSTILE, logs=HOSTILE + "\n"
        )
        ledger.finish_attempt(tick.id, number, AttemptEnd(result, T0, TickState.DEAD))
    finally:
        ledger.close()
    for command in (["runs"], ["dlq", "list"], ["logs", "f"]):
        assert main([*command, "--ledger", str(path)]) == 0
        out = capsys.readouterr().out
        assert "\\x1b]0;owned\\x07\\x1b[2J\\rhidden" in out
        assert "\x1b" not in out
        assert "\r" not in out


def test_escape_keeps_text_and_newlines_and_shows_controls() -> None:
    from localbridge.terminal import escape

    assert escape("héllo\tworld\n") == "héllo\tworld\n"
    assert escape("a\x1b[31mb\x9bc\x7f") == "a\\x1b[31mb\\x9bc\\x7f"
    assert escape("one\ntwo", keep_newlines=False) == "one\\ntwo"
