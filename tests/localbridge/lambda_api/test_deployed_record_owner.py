"""A second localbridge never overwrites the ``.chalice/deployed`` record of a live one.

Real processes: ``localbridge run`` on one port writes the record; ``serve``
of the same project on another port leaves it (and says so in one line);
once the run has stopped, the next ``serve`` writes its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from localbridge.lambda_api.deployed_record import deployed_path
from tests.deploy.project_copy import copy_project
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    ROOT,
    Process,
    free_port,
    http_ok,
    running,
    start_process,
)


def answering(port: int) -> bool:
    """ListFunctions answers: the record is written before the API serves."""
    return http_ok(f"http://127.0.0.1:{port}/2015-03-31/functions/")


def start(command: str, project: Path, port: int, log: Path) -> Process:
    args = [
        "-m", "localbridge", command, "--project", str(project), "--port", str(port),
        "--ledger", str(log.with_suffix(".db")), "--env", "RESULTS_API_URL=http://127.0.0.1:9",
        "--env", f"REGISTRATIONS_DB={project / 'registrations.db'}",
    ]  # fmt: skip
    if command == "run":
        args += ["--console-port", str(free_port())]
    return start_process(args, log, env=FAKE_AWS_CREDENTIALS, cwd=project)


def recorded_endpoint(project: Path) -> str:
    return str(json.loads(deployed_path(project, "local").read_text())["endpoint"])


@pytest.mark.slow
def test_serve_leaves_a_live_runs_record_and_takes_a_stopped_ones(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    subprocess.run(
        [sys.executable, "-m", "data", "--out", str(project / "registrations.db")],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    run_port, serve_port, later_port = free_port(), free_port(), free_port()
    run = start("run", project, run_port, tmp_path / "run.log")
    with running(run, lambda: answering(run_port)):
        assert recorded_endpoint(project) == f"http://127.0.0.1:{run_port}"
        serve = start("serve", project, serve_port, tmp_path / "serve.log")
        with running(serve, lambda: answering(serve_port)):
            assert recorded_endpoint(project) == f"http://127.0.0.1:{run_port}"
            notes = [line for line in serve.log().splitlines() if "left as it is" in line]
            assert len(notes) == 1, serve.log()
            assert f"still running on http://127.0.0.1:{run_port} (pid {run.pid})" in notes[0]
            assert f"this one answers on http://127.0.0.1:{serve_port}" in notes[0]
    # The run has stopped: its record is stale, and the next process takes it.
    later = start("serve", project, later_port, tmp_path / "later.log")
    with running(later, lambda: answering(later_port)):
        assert recorded_endpoint(project) == f"http://127.0.0.1:{later_port}"
        assert "left as it is" not in later.log()
