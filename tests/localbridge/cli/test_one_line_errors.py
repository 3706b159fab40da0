"""Every way to ask the CLI for something wrong or missing: one line on stderr, exit 2.

Usage errors name the command's ``--help`` instead of printing its usage
block; whatever is not found (a function, a dead letter, a ledger, a
project) exits 2 rather than answering "nothing" with 0; an expression that
never fires again says so; instants read ``...Z``, never ``+00:00``.

The parser's answers run through ``main`` in this process (fast); whatever
needs a project runs the real command in a subprocess.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from localbridge.cli.main import main
from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.runtime.harness import HOURLY, write_project

PAST = """
@app.schedule(Cron(0, 0, 1, 1, "?", 2020))
def happy_new_2020(event):
    return {}
"""

NEVER = """
@app.schedule("cron(0 0 30 2 ? *)")
def thirtieth_of_february(event):
    return {}
"""


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert "+00:00" not in stderr
    return lines[0]


def main_exit(argv: list[str]) -> int:
    """``main``'s exit code, whether it returns or argparse exits."""
    try:
        return main(argv)
    except SystemExit as done:
        code = done.code
    assert isinstance(code, int)
    return code


USAGE = [
    ([], "the following arguments are required: COMMAND; see localbridge --help"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["run", "--speed", "fast"], "argument --speed: 'fast': expected a number above 0"),
    (["run", "--clock-start", "yesterday"], "see localbridge run --help"),
    (["invoke"], "required: name; see localbridge invoke --help"),
    (["replay", "--from", "2022-12-01"], "required: --to; see localbridge replay --help"),
    (["next"], "required: expression; see localbridge next --help"),
    (["next", "rate(1 minute)", "-n", "zero"], "argument -n: 'zero': expected a whole number >= 1"),
    (["runs", "--state", "lost"], "invalid choice: 'lost'"),
    (["runs", "--limit", "0"], "see localbridge runs --help"),
    (["dlq"], "required: ACTION; see localbridge dlq --help"),
    (["dlq", "drop"], "invalid choice: 'drop'"),
    (["dlq", "purge", "--id", "x"], "see localbridge dlq purge --help"),
    (["dlq", "list", "-x"], "unrecognized arguments: -x; see localbridge dlq list --help"),
    (["resume", "--bogus"], "unrecognized arguments: --bogus; see localbridge resume --help"),
    (["prune"], "required: --before; see localbridge prune --help"),
    (["stats", "--before", "soon"], "see localbridge stats --help"),
    (["logs"], "required: name; see localbridge logs --help"),
    (["console", "--console-port", "99999"], "see localbridge console --help"),
    (["generate-event", "--time", "noon"], "see localbridge generate-event --help"),
    (["serve", "--port", "-1"], "see localbridge serve --help"),
]


@pytest.mark.parametrize(("argv", "says"), USAGE, ids=[" ".join(a) or "nothing" for a, _ in USAGE])
def test_a_usage_error_is_one_line_naming_the_commands_help(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main_exit(argv) == 2
    out, err = capsys.readouterr()
    line = one_line(err)
    assert line.startswith("localbridge: error: ")
    assert says in line
    assert line.endswith(" --help")
    assert out == ""


MISSING_LEDGER = [
    ["runs"],
    ["runs", "hourly"],
    ["dlq", "list"],
    ["dlq", "purge", "--all", "--yes"],
    ["logs", "hourly"],
    ["prune", "--before", "2022-12-01"],
    ["console", "--console-port", "0"],
]


@pytest.mark.parametrize("argv", MISSING_LEDGER, ids=" ".join)
def test_a_missing_ledger_is_one_line_and_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    assert main_exit([*argv, "--ledger", str(missing)]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"no ledger at {missing}" in line
    assert "--ledger" in line
    assert not missing.exists()  # reading a ledger never creates one


NEVER_CASES = [
    ("cron(0 0 30 2 ? *)", "cron(0 0 30 2 ? *) never fires (no date in 1970-2199 matches)"),
    (
        "cron(0 0 1 1 ? 2020)",
        "cron(0 0 1 1 ? 2020) never fires after 2022-12-19T00:00:00Z (last: 2020-01-01T00:00:00Z)",
    ),
    (
        "cron(15 8 L * ? 1970-2021)",
        "never fires after 2022-12-19T00:00:00Z (last: 2021-12-31T08:15:00Z)",
    ),
]


@pytest.mark.parametrize(("expression", "says"), NEVER_CASES)
def test_next_of_an_expression_that_never_fires_again_says_so(
    expression: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main_exit(["next", expression, "--after", "2022-12-19T00:00:00Z"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert says in one_line(err)


def test_next_says_when_fewer_instants_are_left_than_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["next", "cron(0 0 1 1 ? 2022-2023)", "--after", "2021-06-01", "-n", "5"]
    assert main_exit(argv) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["2022-01-01T00:00:00Z", "2023-01-01T00:00:00Z"]
    assert "fires no more after these" in one_line(err)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project of three functions, one that has run (into ``l.db``) and two that never will."""
    root = write_project(tmp_path_factory.mktemp("one-line") / "p", HOURLY, PAST, NEVER)
    ran = localbridge(
        "invoke", "hourly", "--time", "2022-12-19T01:00:00Z", "--ledger", "l.db",
        "--mode", "thread", cwd=root,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return root


NOT_FOUND = [
    (["invoke", "nosuch", "--mode", "thread"], "no scheduled function 'nosuch'"),
    (["generate-event", "nosuch"], "no scheduled function 'nosuch'"),
    (["pause", "nosuch"], "no scheduled function 'nosuch'"),
    (["replay", "--from", "2022-12-01", "--to", "2022-12-02", "nosuch"], "'nosuch'"),
    (["runs", "nosuch"], "no scheduled function 'nosuch' (known: "),
    (["logs", "nosuch"], "no scheduled function 'nosuch' (known: "),
    (["dlq", "list", "nosuch"], "no scheduled function 'nosuch'"),
    (["dlq", "purge", "nosuch", "--yes"], "no scheduled function 'nosuch'"),
    (["dlq", "redrive", "nosuch", "--mode", "thread"], "no scheduled function 'nosuch'"),
    (["dlq", "redrive", "--id", "99", "--mode", "thread"], "no dead tick with id 99"),
    (["dlq", "purge", "--id", "99", "--yes"], "no dead tick with id 99"),
    (["list", "--project", "elsewhere"], "elsewhere: run from the Chalice project's directory"),
    (["stats", "--project", "elsewhere"], "elsewhere/.chalice/config.json not found"),
    (
        ["replay", "--from", "2022-12-02", "--to", "2022-12-01"],
        "--to 2022-12-01T00:00:00Z must be after --from 2022-12-02T00:00:00Z",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "says"), NOT_FOUND, ids=[" ".join(a) for a, _ in NOT_FOUND])
def test_what_is_not_found_is_one_line_and_exit_2(
    project: Path, argv: list[str], says: str
) -> None:
    done = localbridge(*argv, "--ledger", "l.db", cwd=project)
    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("localbridge: ")
    assert says in line
    if "known: " in says:  # what the user may have meant, from the project and the ledger
        assert "hourly" in line
        assert "happy_new_2020" in line


def test_a_function_known_to_the_project_is_not_an_error_before_it_runs(project: Path) -> None:
    done = localbridge("runs", "happy_new_2020", "--ledger", "l.db", cwd=project)
    assert (done.returncode, done.stdout.strip()) == (0, "no runs match"), done.stderr


def test_list_says_which_schedules_never_fire_again(project: Path) -> None:
    done = localbridge("list", "--ledger", "l.db", cwd=project)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert "never again (last: 2020-01-01T00:00:00Z)" in rows["happy_new_2020"]
    assert "never (no date in 1970-2199 matches)" in rows["thirtieth_of_february"]
    assert "+00:00" not in done.stdout


def test_console_says_what_a_busy_port_does(project: Path) -> None:
    """``console`` is nothing but the console: a busy port stops it, as its help says."""
    helped = localbridge("console", "--help")
    assert "an error when the default is busy" in " ".join(helped.stdout.split())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = localbridge("console", "--console-port", str(port), "--ledger", "l.db", cwd=project)
    assert done.returncode == 2, done.stderr
    assert str(port) in one_line(done.stderr)
