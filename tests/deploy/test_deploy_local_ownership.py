"""``make deploy-local`` (embedded) uses only what it was told and what it started.

Real ``make``, real processes on free ports: the deployed functions post to
the API on ``API_PORT`` (never to the stage's port, where a stand-in for
another stack's API listens), as ``make invoke`` and ``make run`` do; the
commands it prints work pasted in a fresh shell; another checkout's endpoint
(a real ``git clone``) and a program that is not an emulated AWS are refused
in one line, leaving the other's functions untouched; a start that fails
stops what it started and says why in one line, never with an older run's
log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from infra.background import Background
from tests.deploy.project_copy import copy_project, edit_stage, stage_config
from tests.support import (
    PROCESS_START_S,
    ROOT,
    RecordingServer,
    aws_client,
    free_port,
    wait_for,
)

STAGE = "embedded"
STATE = Path("data") / "emulated-aws"
MAKE_S = 180


@dataclass(frozen=True)
class Checkout:
    """A project directory with its own deploy-local state."""

    path: Path

    def make(self, target: str, *variables: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "--no-print-directory", "-C", str(self.path), target, *variables],
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=MAKE_S,
            check=False,
        )

    def deploy_local(self, *args: str) -> subprocess.CompletedProcess[str]:
        """What ``make deploy-local`` runs, without make (a clone's new mtimes re-install)."""
        return subprocess.run(
            [sys.executable, "-m", "infra.deploy_local", *args],
            cwd=self.path,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=MAKE_S,
            check=False,
        )

    def stop_all(self) -> None:
        for name, module in (("endpoint", "infra.emulated_aws"), ("results-api", "api")):
            Background(name, module, self.path / STATE).stop(grace_s=5)

    def live_pids(self) -> list[int]:
        found = []
        for name, module in (("endpoint", "infra.emulated_aws"), ("results-api", "api")):
            pid = Background(name, module, self.path / STATE).pid()
            if pid is not None:
                found.append(pid)
        return found


def clean_environment() -> dict[str, str]:
    """This environment without any AWS setting: what a fresh shell has."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def with_data(project: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "data", "--out", str(project / "data" / "registrations.db")],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return project


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def own_lines(stderr: str) -> list[str]:
    """deploy-local's error lines (make's own "make: ***" line left out)."""
    return [line for line in stderr.splitlines() if line and not line.startswith("make")]


def hint(stdout: str, label: str) -> str:
    """The command printed after ``label:`` in deploy-local's list of what to run."""
    [line] = [line for line in stdout.splitlines() if line.strip().startswith(f"{label}:")]
    return line.split(":", 1)[1].strip()


def functions_on(endpoint: str) -> dict[str, tuple[str, str]]:
    """Each deployed function's code hash and last change, as Lambda reports them."""
    listed = aws_client("lambda", endpoint).list_functions()["Functions"]
    return {f["FunctionName"]: (f["CodeSha256"], f["LastModified"]) for f in listed}


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Checkout]:
    made = Checkout(with_data(copy_project(tmp_path / "project")))
    try:
        yield made
    finally:
        made.stop_all()


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Checkout]:
    """Another checkout of the project: a real ``git clone``, sharing the environment."""
    path = tmp_path / "other-clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True, timeout=120)
    (path / ".venv").symlink_to((ROOT / ".venv").resolve())
    made = Checkout(with_data(path))
    try:
        yield made
    finally:
        made.stop_all()


@pytest.mark.slow
def test_functions_post_to_api_port_and_the_printed_commands_work(
    checkout: Checkout, recording_server: RecordingServer
) -> None:
    # The stage's own URL: a stand-in for another stack's API, which must get nothing.
    variables = stage_config(checkout.path, STAGE)["environment_variables"]
    stage_api = {**variables, "RESULTS_API_URL": recording_server.url}
    edit_stage(checkout.path, STAGE, environment_variables=stage_api)
    config_before = (checkout.path / ".chalice" / "config.json").read_text()
    endpoint_port, api_port = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{endpoint_port}"
    up = checkout.make(
        "deploy-local", "ENGINE=embedded", f"ENDPOINT_PORT={endpoint_port}", f"API_PORT={api_port}"
    )
    assert up.returncode == 0, up.stdout + up.stderr
    lam = aws_client("lambda", endpoint)
    for name in functions_on(endpoint):
        deployed = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
        assert deployed["RESULTS_API_URL"] == f"http://127.0.0.1:{api_port}"
    assert (checkout.path / ".chalice" / "config.json").read_text() == config_before

    # Pasted in a fresh shell at the project's root, as printed.
    for label in ("invoke", "logs", "runs", "results"):
        done = subprocess.run(
            ["bash", "-c", hint(up.stdout, label)],
            cwd=checkout.path,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{label}: {done.stdout}{done.stderr}"
    results = requests.get(f"http://127.0.0.1:{api_port}/result", timeout=5).json()
    assert [row["result"]["function"] for row in results], results
    assert recording_server.requests == []
    wait_for(lambda: "posted" in hint_output(checkout, hint(up.stdout, "logs")), 30, "the log")

    down = checkout.make("destroy-local", "ENGINE=embedded")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not listening(endpoint_port)
    assert not listening(api_port)


def hint_output(checkout: Checkout, command: str) -> str:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=checkout.path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout


@pytest.mark.slow
def test_another_checkouts_endpoint_is_refused_and_its_functions_left_alone(
    checkout: Checkout, clone: Checkout
) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    other_up = clone.deploy_local(
        "up", "--engine", "embedded", "--port", str(port), "--api-port", str(free_port())
    )
    assert other_up.returncode == 0, other_up.stdout + other_up.stderr
    theirs = functions_on(endpoint)
    assert theirs

    api_port = free_port()
    refused = checkout.make(
        "deploy-local", "ENGINE=embedded", f"ENDPOINT_PORT={port}", f"API_PORT={api_port}"
    )
    assert refused.returncode != 0
    [line] = own_lines(refused.stderr)
    assert f"another checkout's emulated AWS (state in {clone.path / STATE})" in line
    assert "ENDPOINT_PORT=" in line
    assert "redeploying" not in refused.stdout
    assert functions_on(endpoint) == theirs
    assert not listening(api_port)
    assert checkout.live_pids() == []

    # Its destroy-local deletes nothing there either.
    down = checkout.make("destroy-local", "ENGINE=embedded", f"ENDPOINT_PORT={port}")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "another checkout's emulated AWS" in down.stdout
    assert functions_on(endpoint) == theirs
    assert clone.deploy_local("down", "--engine", "embedded").returncode == 0


def stale_log(checkout: Checkout) -> None:
    """An older run's endpoint log: none of it may be shown as this start's cause."""
    log = checkout.path / STATE / "endpoint.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"stale line {n} of an older run\n" for n in range(20)))


@pytest.mark.slow
def test_a_program_that_is_not_aws_on_the_port_is_named_in_one_line(
    checkout: Checkout, recording_server: RecordingServer
) -> None:
    stale_log(checkout)
    port = int(recording_server.url.rsplit(":", 1)[1])
    api_port = free_port()
    refused = checkout.make(
        "deploy-local", "ENGINE=embedded", f"ENDPOINT_PORT={port}", f"API_PORT={api_port}"
    )
    assert refused.returncode != 0
    [line] = own_lines(refused.stderr)
    assert f"port {port} is taken by a program that is not an emulated AWS" in line
    assert "make deploy-local ENDPOINT_PORT=" in line
    assert "stale line" not in refused.stdout + refused.stderr
    assert not listening(api_port)


@pytest.mark.slow
def test_a_failed_start_says_why_in_one_line_and_stops_what_it_started(
    checkout: Checkout,
) -> None:
    stale_log(checkout)
    port, api_port = free_port(), free_port()
    failed = checkout.make(
        "deploy-local",
        "ENGINE=embedded",
        f"ENDPOINT_PORT={port}",
        f"API_PORT={api_port}",
        "CLOCK_START=not-a-time",
    )
    assert failed.returncode != 0
    [line] = own_lines(failed.stderr)
    assert "the endpoint exited while starting" in line
    assert "--clock-start" in line
    assert "stale line" not in failed.stdout + failed.stderr
    # The API had started before the endpoint failed: it is stopped again.
    assert "Results API: started" in failed.stdout
    assert not listening(api_port)
    assert checkout.live_pids() == []
    assert not (checkout.path / STATE / "results-api.url").exists()


@pytest.fixture
def other_api() -> Iterator[RecordingServer]:
    """A second API: where the stage's own URL points, standing in for another stack's."""
    server = RecordingServer().start()
    try:
        yield server
    finally:
        server.stop()


def point_stage_at(project: Path, stage: str, url: str) -> None:
    variables = stage_config(project, stage)["environment_variables"]
    edit_stage(project, stage, environment_variables={**variables, "RESULTS_API_URL": url})


@pytest.mark.shipped_jobs("registrations_per_day")
def test_make_invoke_posts_to_api_port(
    checkout: Checkout, recording_server: RecordingServer, other_api: RecordingServer
) -> None:
    point_stage_at(checkout.path, "local", other_api.url)
    api_port = recording_server.url.rsplit(":", 1)[1]
    done = checkout.make(
        "invoke", "FN=registrations_per_day", "TIME=2022-12-22T00:05:00Z", f"API_PORT={api_port}"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [posted] = recording_server.requests
    assert posted.headers["Idempotency-Key"] == "registrations_per_day/2022-12-22T00:05:00Z"
    assert other_api.requests == []


@pytest.mark.slow
def test_make_run_posts_to_api_port(checkout: Checkout, other_api: RecordingServer) -> None:
    point_stage_at(checkout.path, "local", other_api.url)
    api_port, lambda_port, console_port = free_port(), free_port(), free_port()
    ports = [f"API_PORT={api_port}", f"LAMBDA_PORT={lambda_port}", f"CONSOLE_PORT={console_port}"]
    # Its own session: the test stops make and its children as Ctrl-C would, by group.
    run = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(checkout.path), "run", *ports],
        env=clean_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{api_port}/result?metric=average_weight"
        wait_for(lambda: api_results(url), PROCESS_START_S * 2, "week 50 in the API on API_PORT")
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=MAKE_S)
    assert other_api.requests == []


def api_results(url: str) -> list[object]:
    try:
        response = requests.get(url, timeout=5)
    except requests.RequestException:
        return []  # not answering yet
    return list(response.json()) if response.ok else []
