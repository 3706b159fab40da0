"""Each synchronous Invoke is its own invocation; the context is Lambda's.

A real ``localbridge serve`` on a throwaway project, called with boto3.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.localbridge.chalice_project import TASKS_PY, write_project
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    aws_client,
    free_port,
    http_ok,
    running,
    start_process,
)

EXTRA_FUNCTIONS = """

@bp.schedule(Rate(14, unit=Rate.HOURS))
def writes_to_context_log(event):
    event.context.log("through context.log")
    event.context.log(" and on\\n")
    return "logged"
"""


@pytest.fixture
def lambda_client(tmp_path: Path) -> Iterator[Any]:
    project = write_project(tmp_path / "project")
    tasks = project / "tasks.py"
    tasks.write_text(TASKS_PY + EXTRA_FUNCTIONS)
    port = free_port()
    args = [
        "-m", "localbridge", "serve", "--stage", "dev", "--project", str(project),
        "--ledger", str(tmp_path / "ledger.db"), "--port", str(port),
    ]  # fmt: skip
    process = start_process(args, tmp_path / "serve.log", env=FAKE_AWS_CREDENTIALS, cwd=project)
    url = f"http://127.0.0.1:{port}"
    with running(process, lambda: http_ok(f"{url}/2015-03-31/functions/")):
        yield aws_client("lambda", url)


@pytest.mark.slow
def test_every_synchronous_invoke_has_its_own_request_id(lambda_client: Any) -> None:
    seen = []
    for _ in range(3):  # within one second: one tick, three invocations
        response = lambda_client.invoke(FunctionName="demo-dev-echo")
        payload = json.loads(response["Payload"].read())
        # What the caller is told is what the function saw.
        assert payload["request_id"] == response["ResponseMetadata"]["RequestId"]
        seen.append((payload["request_id"], payload["event"]["id"]))
    assert len({request_id for request_id, _ in seen}) == 3
    assert len({event_id for _, event_id in seen}) == 3


@pytest.mark.slow
def test_context_log_writes_to_the_run_log(lambda_client: Any) -> None:
    response = lambda_client.invoke(FunctionName="demo-dev-writes_to_context_log", LogType="Tail")
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == "logged"
    tail = base64.b64decode(response["LogResult"]).decode()
    assert "through context.log and on\n" in tail
