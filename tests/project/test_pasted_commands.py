"""Every command the project prints or documents works when pasted.

The reader's situation, reproduced: a copy of the repository whose ``.venv``
holds what ``make run`` installs and nothing more (``make data``: the same
prerequisites), the README's example job added as it says, and the stack
``make run`` starts (``python -m infra.local``) on free ports with a fast
virtual clock. Then each command of that stack's banner and of the ```sh and
```console blocks of README.md and docs/*.md runs, in order, in a fresh
``bash`` at the copy's root: no virtual environment on the PATH, no AWS
settings but what the command line gives. The documented ports are replaced
by the stack's (``.chalice/config.json``'s too), and ``make`` is given them.

What cannot run here is in ``SKIPPED``, each with its reason, and is still
read by the static checks: tools of ``.venv`` are called by their path, and
every ``aws``/``chalice`` command carries a region and credentials.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT, free_port, http_ok, wait_for

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(sh|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")
# The ports the docs write, each replaced by a free one (5001: "another port").
DOCUMENTED_PORTS = (5000, 5001, 3000, 3001)
PORT = re.compile(r"(?<=[:= ])(5000|5001|3000|3001)\b")
# Programs that live in .venv: a fresh shell finds them only by their path.
VENV_TOOLS = {"localbridge", "chalice", "aws", "python", "pytest", "uvicorn", "ruff", "mypy"}

SKIPPED = {
    r"^make run\b": "starts the stack: this test starts the same (python -m infra.local)",
    r"^make test\b": "the suite this test belongs to",
    r"^make install\b": "adds the dev tools, as the environment running this test was made: "
    "the commands after it in its block run with that environment's tools",
    r"^make api\s*(#|$)": "the results API alone: make run's stack already serves it there",
    r"^\.venv/bin/localbridge (run|console)\b": "a second localbridge beside make run's, on its "
    "ledger and its ports, running until Ctrl-C",
    r"make (deploy|destroy)-local\b": "deploys to an emulated AWS (tests/deploy run it on their "
    "own ports)",
    r"127\.0\.0\.1:4566|--stage embedded|metric-jobs-embedded|data/emulated-aws": "needs what "
    "make deploy-local started",
    r"localhost:4566": "needs LocalStack (docker compose)",
    r"^docker compose\b": "needs a Docker engine and pulled images",
    r"--rows 10000000": "writes ten million rows (minutes): the generator make run uses, larger",
    r"^\.venv/bin/localbridge dlq (redrive|purge --id 7)\s*(#|$)": "the transcript's app had "
    "lost a function ('old_job') since its ticks died",
}
# Commands documented to fail, with the exit code they end with.
EXPECTED_EXIT = {r"RESULTS_API_URL=http://127\.0\.0\.1:9\b": 1}
# Commands that serve until stopped: the path that answers once they are up.
SERVERS = {r"\bmake api API_PORT=": "/health"}

COMMAND_S = 120.0
"""One command's bound: the slowest, a replay whose runs retry twice (reliability.md),
takes about 5 s on a quiet machine; the margin covers a loaded one."""


@dataclass(frozen=True)
class Command:
    text: str
    where: str  # "docs/x.md:12" or "make run's banner"
    block: str  # commands of one block share its `export`s


def logical_lines(lines: list[str]) -> Iterator[tuple[int, str]]:
    """Each command with its index: continuation lines joined, a heredoc kept whole."""
    index = 0
    while index < len(lines):
        start, text = index, lines[index]
        while text.endswith("\\") and index + 1 < len(lines):
            index += 1
            text = text[:-1].rstrip() + " " + lines[index].strip()
        heredoc = HEREDOC.search(text)
        if heredoc:  # the document, to its terminator line, belongs to the command
            end = lines.index(heredoc.group(1), index + 1)
            text = "\n".join([text, *lines[index + 1 : end + 1]])
            index = end
        yield start, text
        index += 1


def block_commands(kind: str, body: str) -> list[tuple[int, str]]:
    """A block's commands with their line offsets: every line of ```sh, ``$ `` lines of
    ```console (their output left out)."""
    lines = body.splitlines()
    if kind == "console":
        kept: list[tuple[int, str]] = []
        for number, line in enumerate(lines):
            continued = kept and kept[-1][1].endswith("\\")
            if line.startswith("$ ") or continued:
                kept.append((number, line.removeprefix("$ ")))
        numbers = [number for number, _ in kept]
        return [(numbers[i], text) for i, text in logical_lines([t for _, t in kept])]
    return [
        (number, text)
        for number, text in logical_lines(lines)
        if text.strip() and not text.lstrip().startswith("#")
    ]


def documented_commands(docs: list[Path] = DOCS) -> list[Command]:
    found = []
    for doc in docs:
        text = doc.read_text()
        name = doc.relative_to(ROOT).as_posix() if doc.is_relative_to(ROOT) else doc.name
        for fence in FENCE.finditer(text):
            first = text[: fence.start(2)].count("\n") + 1
            block = f"{name}:{first - 1}"
            for offset, command in block_commands(fence.group(1), fence.group(2)):
                found.append(Command(command, f"{name}:{first + offset}", block))
    return found


def banner_commands(output: str) -> list[Command]:
    """The indented lines of infra.local's banner, from the API's address to "Ctrl-C"."""
    start = output.index("results API:")
    banner = output[start : output.index("Ctrl-C stops both.", start)]
    return [
        Command(line.strip(), "make run's banner", "banner")
        for line in banner.splitlines()
        if line.startswith("  ")
    ]


def skip_reason(command: str) -> str | None:
    return next((why for pattern, why in SKIPPED.items() if re.search(pattern, command)), None)


def words(command: str) -> list[str]:
    """The program each pipeline stage of ``command`` runs (leading VAR=value left out)."""
    programs = []
    for stage in re.split(r"\|\||&&|[|;&]", command.split("\n")[0]):
        tokens = [t for t in stage.split() if not re.fullmatch(r"[A-Za-z_]\w*=\S*", t)]
        if tokens and not tokens[0].startswith("#"):
            programs.append(tokens[0])
    return programs


def static_problems(command: Command, exports: str) -> list[str]:
    problems = []
    for program in words(command.text):
        if program in VENV_TOOLS:
            problems.append(f"{program} lives in .venv: write .venv/bin/{program}")
    calls_aws = any(Path(p).name in {"aws", "chalice"} for p in words(command.text))
    if calls_aws:
        given = exports + " " + command.text
        if "AWS_DEFAULT_REGION=" not in given and "--region" not in given:
            problems.append("no region (AWS_DEFAULT_REGION=us-east-1 or --region)")
        if "AWS_ACCESS_KEY_ID=" not in given or "AWS_SECRET_ACCESS_KEY=" not in given:
            problems.append("no credentials (AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test)")
    return problems


def block_exports(commands: list[Command]) -> dict[Command, str]:
    """Each command's preceding ``export`` lines of its block, as one shell prefix."""
    prefix: dict[Command, str] = {}
    seen: dict[str, list[str]] = {}
    for command in commands:
        prefix[command] = "\n".join(seen.get(command.block, []))
        if command.text.startswith("export "):
            seen.setdefault(command.block, []).append(command.text)
    return prefix


def test_documented_commands_call_venv_tools_by_path_with_region_and_credentials() -> None:
    commands = documented_commands()
    assert len(commands) > 30, "the docs' command blocks were not found"
    exports = block_exports(commands)
    problems = [
        f"{c.where}: {c.text.splitlines()[0]}: {problem}"
        for c in commands
        for problem in static_problems(c, exports[c])
    ]
    assert problems == []


def test_each_skip_names_a_command_that_exists() -> None:
    texts = [c.text for c in documented_commands()]
    assert [p for p in SKIPPED if not any(re.search(p, text) for text in texts)] == []


def test_extraction_reads_blocks_as_a_shell_would(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(
        "```sh\nexport A=1   # note\n# a comment\nlocalbridge list \\\n    --stage local\n"
        "cat > e.json <<'JSON'\n{}\nJSON\n```\n\n```console\n$ aws s3 ls\noutput\n"
        '$ chalice invoke \\\n      -n f\n{"a": 1}\n```\n'
    )
    commands = documented_commands([doc])
    assert [(c.text, c.where) for c in commands] == [
        ("export A=1   # note", "guide.md:2"),
        ("localbridge list --stage local", "guide.md:4"),
        ("cat > e.json <<'JSON'\n{}\nJSON", "guide.md:6"),
        ("aws s3 ls", "guide.md:12"),
        ("chalice invoke -n f", "guide.md:14"),
    ]
    exports = block_exports(commands)
    assert static_problems(commands[1], "") == [
        "localbridge lives in .venv: write .venv/bin/localbridge"
    ]
    assert len(static_problems(commands[3], exports[commands[3]])) == 3
    good = Command(
        "AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
        ".venv/bin/aws lambda list-functions",
        "x",
        "x",
    )
    assert static_problems(good, "") == []


# The run against a stack: a run-only environment, the stack, every command.


@dataclass
class Stack:
    root: Path
    ports: dict[int, int]
    banner: list[Command]
    process: subprocess.Popen[bytes]


def copy_repository(destination: Path) -> Path:
    """The files git knows, as in a fresh clone (with this worktree's edits)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree, not yet in git
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return destination


def add_readme_job(root: Path) -> None:
    """Write the README's "Adding a job" module, as a reader following it does."""
    found = re.search(
        r"```python\n# (functions/\w+\.py)\n(.*?)```", (root / "README.md").read_text(), re.DOTALL
    )
    assert found, "README.md has no ```python block starting with '# functions/<job>.py'"
    (root / found.group(1)).write_text(found.group(2))


def point_stage_at(root: Path, api_port: int) -> None:
    path = root / ".chalice" / "config.json"
    config = json.loads(path.read_text())
    variables = config["stages"]["local"]["environment_variables"]
    variables["RESULTS_API_URL"] = PORT.sub(str(api_port), variables["RESULTS_API_URL"])
    path.write_text(json.dumps(config, indent=2))


def fresh_shell_env(home: Path) -> dict[str, str]:
    """A new terminal of the same user: no virtual environment on the PATH or active,
    no Python path, and no AWS region, credentials or endpoint beyond what a command
    sets itself (the machine's CA bundle stays)."""
    dropped = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_", "AWS_")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(dropped) or key == "AWS_CA_BUNDLE"
    }
    path = [p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p]
    return env | {
        "PATH": os.pathsep.join(path),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
    }


def make_run_environment(root: Path) -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "data"],
        cwd=root,
        env=fresh_shell_env(root),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def start_stack(root: Path, log: Path) -> Stack:
    ports = {port: free_port() for port in DOCUMENTED_PORTS}
    point_stage_at(root, ports[5000])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(root / ".venv/bin/python"),
                "-m",
                "infra.local",
                "--clock-start=2022-12-18T23:59:00Z",
                "--clock-end=2022-12-23T00:05:00Z",
                "--speed=1000000",
                f"--api-port={ports[5000]}",
                f"--lambda-port={ports[3001]}",
                f"--console-port={ports[3000]}",
            ],
            cwd=root,
            env=fresh_shell_env(root) | {"PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def ready() -> bool:
        assert process.poll() is None, log.read_text()
        return "Lambda Invoke API on" in log.read_text() and http_ok(
            f"http://127.0.0.1:{ports[5000]}/health"
        )

    wait_for(ready, 120, what="make run's stack")
    return Stack(root, ports, banner_commands(log.read_text()), process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def in_scratch(command: Command, scratch: Path) -> Command:
    """``command`` with its ``/tmp/`` files in this test's own folder (two suites
    running side by side never share one); before any path of this test is put in."""
    text = re.sub(r"(?<![\w.])/tmp/", f"{scratch}/", command.text)
    return Command(text, command.where, command.block)


def substituted(command: str, ports: dict[int, int]) -> str:
    text = PORT.sub(lambda found: str(ports[int(found.group(1))]), command)
    if "API_PORT=" in text:  # the command chose its own port
        return text
    given = f"API_PORT={ports[5000]} LAMBDA_PORT={ports[3001]} CONSOLE_PORT={ports[3000]}"
    return re.sub(r"\bmake ([\w-]+)", rf"make \1 {given}", text)


def run_server(command: str, path: str, stack: Stack, env: dict[str, str]) -> tuple[int, str]:
    """Start a command that serves until stopped, wait until it answers, stop it."""
    port = int(re.findall(r"API_PORT=(\d+)", command)[-1])
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=stack.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: process.poll() is not None or http_ok(f"http://127.0.0.1:{port}{path}"),
            COMMAND_S,
            what=command,
        )
        code = 0 if process.poll() is None else (process.returncode or 1)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    return code, output


def lines(output: str) -> list[str]:
    return output.strip().splitlines()


def run_command(command: Command, exports: str, stack: Stack, env: dict[str, str]) -> str | None:
    """None when ``command`` did what its doc says; else what went wrong."""
    text = substituted(command.text, stack.ports)
    expected = next((code for p, code in EXPECTED_EXIT.items() if re.search(p, text)), 0)
    server = next((path for p, path in SERVERS.items() if re.search(p, text)), None)
    if server is not None:
        code, output = run_server(text, server, stack, env)
    else:
        script = f"{exports}\n{text}" if exports else text
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                cwd=stack.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=COMMAND_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"{command.where}: {text.splitlines()[0]}\n  still running after {COMMAND_S} s"
        code, output = done.returncode, "\n".join(lines(done.stdout)[-3:] + lines(done.stderr))
    if code == expected:
        return None
    tail = "\n    ".join(lines(output)[-6:])
    return (
        f"{command.where}: {text.splitlines()[0]}\n  exit {code}, expected {expected}:\n    {tail}"
    )


def with_dev_tools(command: Command, after_install: set[str]) -> Command:
    """After a skipped ``make install`` in its block, a command's ``.venv/bin/`` is this
    test's environment's (which ``make install`` made)."""
    if command.block not in after_install:
        return command
    text = command.text.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    return Command(text, command.where, command.block)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = copy_repository(tmp_path_factory.mktemp("clone") / "metric-jobs")
    add_readme_job(root)
    make_run_environment(root)
    started = start_stack(root, root.parent / "make-run.log")
    try:
        yield started
    finally:
        stop(started.process)


# Its own bound: a fresh environment, a stack and some forty commands, each bounded by
# COMMAND_S; about 2 minutes with two suites sharing the machine (load 15).
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_printed_and_documented_command_works_after_make_run(stack: Stack) -> None:
    installed = {path.name for path in (stack.root / ".venv/bin").iterdir()}
    assert "localbridge" in installed, "make run does not install .venv/bin/localbridge"
    assert "moto_server" not in installed, "make run installs the deploy tools"
    assert [c.text for c in stack.banner if c.text.startswith("curl")], stack.banner
    env = fresh_shell_env(stack.root)
    commands = stack.banner + documented_commands()
    exports = block_exports(commands)
    after_install: set[str] = set()
    failures = []
    for command in commands:
        if skip_reason(command.text):
            if re.match(r"make install\b", command.text):
                after_install.add(command.block)
            continue
        ran = with_dev_tools(in_scratch(command, stack.root.parent), after_install)
        failure = run_command(ran, exports[command], stack, env)
        if failure:
            failures.append(failure)
    assert failures == [], "\n".join(failures)
