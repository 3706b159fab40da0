"""The newcomer's path through ``make``: help, invoke with a time, clean, and busy ports.

Real ``make`` on the real Makefile (dry runs where a target would install or
run things), and the real ``python -m infra.local`` against ports a test holds.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import PROCESS_START_S, ROOT, free_port, python_env

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd, capture_output=True, text=True, timeout=PROCESS_START_S, check=False,
    )  # fmt: skip


def test_help_lists_the_variables_and_no_unexpanded_make_syntax() -> None:
    done = make("help")
    assert done.returncode == 0, done.stderr
    for variable in ("CLOCK_START", "SPEED", "FN", "STAGE", "TIME", "API_PORT", "LAMBDA_PORT"):
        assert f"\n  {variable} " in done.stdout
    assert "$(" not in done.stdout


def test_invoke_passes_the_scheduled_time() -> None:
    done = make("-n", "invoke", "FN=average_weight_last_week", "TIME=2022-12-19T01:00:00Z")
    assert done.returncode == 0, done.stderr
    assert "invoke average_weight_last_week --time 2022-12-19T01:00:00Z" in done.stdout


def bare_makefile(project: Path) -> None:
    shutil.copy(ROOT / "Makefile", project / "Makefile")
    for name in ("requirements.lock", "pyproject.toml"):
        (project / name).write_text("")


def test_clean_removes_local_deployment_records_and_keeps_other_stages(tmp_path: Path) -> None:
    bare_makefile(tmp_path)
    deployed = tmp_path / ".chalice" / "deployed"
    deployed.mkdir(parents=True)
    for stage in ("local", "localstack", "prod"):
        (deployed / f"{stage}.json").write_text("{}")
    (tmp_path / ".chalice" / "deployments").mkdir()
    (tmp_path / ".chalice" / "deployments" / "abc-python3.11.zip").write_bytes(b"zip")
    done = make("clean", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / ".chalice" / "deployments").exists()
    assert sorted(p.name for p in deployed.iterdir()) == ["prod.json"]
    assert "kept .chalice/deployed/prod.json" in done.stdout
    assert "make destroy STAGE=prod" in done.stdout


def deploy_local_state(project: Path, pid: int) -> Path:
    """What ``make deploy-local``'s embedded engine leaves: unpacked code, pid file, record."""
    state = project / "data" / "emulated-aws"
    (state / "code" / "abc123" / "functions").mkdir(parents=True)
    (state / "code" / "abc123" / "app.py").write_text("app = None\n")
    (state / "endpoint.pid").write_text(f"{pid}\n")
    (project / "data" / "deploy-local.json").write_text('{"engine": "embedded"}\n')
    return state


def test_clean_removes_what_deploy_local_left_once_it_stopped(tmp_path: Path) -> None:
    bare_makefile(tmp_path)
    with subprocess.Popen([sys.executable, "-c", "pass"]) as ended:
        ended.wait()  # reaped: its pid names no process
    state = deploy_local_state(tmp_path, pid=ended.pid)
    done = make("clean", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not state.exists()
    assert not (tmp_path / "data" / "deploy-local.json").exists()


def test_clean_keeps_what_deploy_local_runs_from(tmp_path: Path) -> None:
    """Its pid files are how ``make destroy-local`` stops the engine: not while it runs."""
    bare_makefile(tmp_path)
    with subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                          stdin=subprocess.PIPE) as running:  # fmt: skip
        state = deploy_local_state(tmp_path, pid=running.pid)
        done = make("clean", cwd=tmp_path)
        running.communicate()
    assert done.returncode == 0, done.stderr
    assert (state / "code" / "abc123" / "app.py").exists()
    assert (tmp_path / "data" / "deploy-local.json").exists()
    assert "kept data/emulated-aws" in done.stdout
    assert "make destroy-local" in done.stdout


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another program listens on, for the length of the test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(("option", "variable"), [("--api-port", "API_PORT"),
                                                   ("--lambda-port", "LAMBDA_PORT")])  # fmt: skip
def test_run_with_a_port_taken_says_which_and_how_to_choose_another(
    tmp_path: Path, held_port: int, option: str, variable: str
) -> None:
    ports = {
        "--api-port": str(free_port()),
        "--lambda-port": str(free_port()),
        option: str(held_port),
    }
    done = subprocess.run(
        [sys.executable, "-m", "infra.local", "--ledger", str(tmp_path / "l.db"),
         "--results-db", str(tmp_path / "r.db"), *[x for kv in ports.items() for x in kv]],
        cwd=ROOT, env=python_env(), capture_output=True, text=True, timeout=PROCESS_START_S,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"port {held_port} " in done.stderr
    assert f"make run {variable}=" in done.stderr
    assert "Traceback" not in done.stderr
