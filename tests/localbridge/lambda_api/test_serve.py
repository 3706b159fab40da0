"""``localbridge serve``/``run`` answer the Invoke API and record invocations in the ledger.

A real ``python -m localbridge`` process on a free port, its real ledger file,
the real ``chalice invoke`` CLI and boto3 against it, and a real HTTP server
on 127.0.0.1 recording what the jobs post.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.chalice_cli import chalice_command
from localbridge.ledger.store import Ledger
from localbridge.project.discovery import discover
from localbridge.ticks import Tick, TickSource, TickState
from tests.deploy.project_copy import copy_project
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    PROCESS_START_S,
    ROOT,
    RUN_S,
    Process,
    RecordingServer,
    aws_client,
    free_port,
    http_ok,
    running,
    start_process,
    wait_for,
)

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")


@dataclass(frozen=True)
class Served:
    url: str
    project: Path
    ledger_path: Path
    process: Process

    def lambda_client(self) -> Any:
        return aws_client("lambda", self.url)

    def ticks(self) -> list[Tick]:
        ledger = Ledger.open(self.ledger_path)
        try:
            return ledger.find(None, None, None, 100)
        finally:
            ledger.close()


def answering(port: int) -> bool:
    """ListFunctions answers: the API serves (the port alone is bound before that)."""
    return http_ok(f"http://127.0.0.1:{port}/2015-03-31/functions/")


def localbridge_args(command: str, served: Path, db: Path, api_url: str, port: int) -> list[str]:
    return [
        "-m", "localbridge", command,
        "--project", str(served), "--ledger", str(served / "ledger.db"), "--port", str(port),
        "--env", f"REGISTRATIONS_DB={db}", "--env", f"RESULTS_API_URL={api_url}",
    ]  # fmt: skip


@pytest.fixture
def served(tmp_path: Path, recording_server: RecordingServer) -> Iterator[Served]:
    project = copy_project(tmp_path / "project")
    db = tmp_path / "registrations.db"
    subprocess.run([sys.executable, "-m", "data", "--out", str(db)], check=True, cwd=ROOT)
    port = free_port()
    args = localbridge_args("serve", project, db, recording_server.url, port)
    process = start_process(args, tmp_path / "serve.log", env=FAKE_AWS_CREDENTIALS, cwd=project)
    with running(process, lambda: answering(port)):
        yield Served(f"http://127.0.0.1:{port}", project, project / "ledger.db", process)


@pytest.mark.slow
def test_chalice_invoke_reaches_serve_and_the_run_is_in_the_ledger(
    served: Served, recording_server: RecordingServer
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **FAKE_AWS_CREDENTIALS,
        "AWS_ENDPOINT_URL": served.url,
    }
    command = chalice_command(
        served.project, ["invoke", "-n", "registrations_per_day", "--stage", "local"]
    )
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr + served.process.log()
    [posted] = recording_server.requests
    assert json.loads(done.stdout) == posted.json()
    [tick] = served.ticks()
    assert (tick.function, tick.source, tick.state) == (
        "registrations_per_day",
        TickSource.INVOKE,
        TickState.SUCCEEDED,
    )


@pytest.mark.slow
def test_event_invocation_is_queued_into_the_ledger_and_runs(
    served: Served, recording_server: RecordingServer
) -> None:
    response = served.lambda_client().invoke(
        FunctionName="metric-jobs-local-average_weight_last_week", InvocationType="Event"
    )
    assert response["StatusCode"] == 202
    # The 202 comes once the tick is committed: it is in the ledger already.
    [tick] = served.ticks()
    assert (tick.function, tick.source) == ("average_weight_last_week", TickSource.EVENT)
    # Every attempt of it runs with the request id the caller was given.
    assert tick.request_id == response["ResponseMetadata"]["RequestId"]

    def succeeded() -> bool:
        return [t.state for t in served.ticks()] == [TickState.SUCCEEDED]

    # A worker may start for it (process mode), then it runs once.
    wait_for(succeeded, PROCESS_START_S + RUN_S, what="the Event invocation to succeed")
    [posted] = recording_server.requests
    assert posted.json()["function"] == "average_weight_last_week"


@pytest.mark.slow
def test_a_busy_explicit_port_is_a_clear_error(served: Served, tmp_path: Path) -> None:
    busy_port = int(served.url.rsplit(":", 1)[1])
    args = localbridge_args(
        "serve", served.project, tmp_path / "db", "http://127.0.0.1:9", busy_port
    )
    args[args.index("--ledger") + 1] = str(tmp_path / "other-ledger.db")
    second = start_process(
        args, tmp_path / "second.log", env=FAKE_AWS_CREDENTIALS, cwd=served.project
    )
    assert second.popen.wait(timeout=PROCESS_START_S) == 2
    assert f"cannot serve the Lambda Invoke API on 127.0.0.1:{busy_port}" in second.log()
    assert "Traceback" not in second.log()


@pytest.mark.slow
def test_run_serves_the_api_beside_the_timer(
    tmp_path: Path, recording_server: RecordingServer
) -> None:
    project = copy_project(tmp_path / "project")
    port = free_port()
    args = localbridge_args("run", project, tmp_path / "absent.db", recording_server.url, port)
    # A virtual clock far from any fire time: nothing fires during the test.
    args += ["--clock-start", "2022-12-20T12:00:00Z"]
    process = start_process(args, tmp_path / "run.log", env=FAKE_AWS_CREDENTIALS, cwd=project)
    with running(process, lambda: answering(port)):
        client = aws_client("lambda", f"http://127.0.0.1:{port}")
        listed = client.list_functions()["Functions"]
        names = {f["FunctionName"] for f in listed}
        assert names == {spec.lambda_name for spec in discover(project, "local")}
        # --env values (a token, say) are not handed to whoever asks.
        variables = listed[0]["Environment"]["Variables"]
        assert variables["RESULTS_API_URL"] == "****"
        # The data file is absent: the function error comes back the Lambda way.
        response = client.invoke(FunctionName="registrations_per_day")
        assert response["FunctionError"] == "Unhandled"
        assert "absent.db" in json.loads(response["Payload"].read())["errorMessage"]
    assert recording_server.requests == []
