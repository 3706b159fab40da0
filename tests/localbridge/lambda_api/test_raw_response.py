"""A handler returning top-level ``bytes`` answers them raw, as Lambda's runtime does.

awslambdaric's marshaller sends ``bytes`` as they are and JSON-encodes
everything else (bytes inside a value fail with ``Runtime.MarshalError``).
A real ``localbridge serve`` in each mode, called with boto3 and ``chalice
invoke``; the invokers directly for the response quota.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.chalice_cli import chalice_command
from localbridge.invokers.process import ProcessInvoker
from localbridge.invokers.thread import ThreadInvoker
from localbridge.lambda_errors import MAX_RESPONSE_BYTES
from localbridge.model import FunctionSpec, Outcome
from tests.localbridge.invokers.support import IDENTITY, event_for
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    PROCESS_START_S,
    aws_client,
    free_port,
    http_ok,
    running,
    start_process,
)

APP = """\
from chalice import Chalice, Rate

app = Chalice(app_name="raw")


@app.schedule(Rate(1, unit=Rate.HOURS))
def text(event):
    return "raw text, not JSON".encode()


@app.schedule(Rate(2, unit=Rate.HOURS))
def binary(event):
    return bytes(range(256)) * event.detail.get("times", 1)


@app.schedule(Rate(3, unit=Rate.HOURS))
def nested(event):
    return {"data": b"bytes inside"}
"""
CONFIG = {"version": "2.0", "app_name": "raw", "stages": {"dev": {}}}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("raw")
    (root / "app.py").write_text(APP)
    (root / ".chalice").mkdir()
    (root / ".chalice" / "config.json").write_text(json.dumps(CONFIG))
    return root


def spec(name: str) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        handler=f"app.{name}",
        expression="rate(1 hour)",
        app_name="raw",
        stage="dev",
        timeout_s=30,
    )


@pytest.mark.parametrize("mode", [ProcessInvoker, ThreadInvoker])
def test_bytes_are_the_payload_within_the_response_quota(project: Path, mode: Any) -> None:
    invoker = mode(project, IDENTITY)
    try:
        function = spec("binary")
        result = invoker.invoke(function, event_for(function), "r1")
        assert (result.outcome, result.payload) == (Outcome.SUCCEEDED, bytes(range(256)))
        times = MAX_RESPONSE_BYTES // 256 + 1
        too_large = invoker.invoke(function, event_for(function, times=times), "r2")
        assert too_large.error_type == "Function.ResponseSizeTooLarge"
        nested = invoker.invoke(spec("nested"), event_for(spec("nested")), "r3")
        assert nested.error_type == "Runtime.MarshalError"
    finally:
        invoker.close()


@pytest.fixture(params=["process", "thread"])
def served(request: pytest.FixtureRequest, project: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    args = [
        "-m", "localbridge", "serve", "--stage", "dev", "--project", str(project),
        "--ledger", str(tmp_path / "ledger.db"), "--port", str(port), "--mode", request.param,
    ]  # fmt: skip
    process = start_process(args, tmp_path / "serve.log", env=FAKE_AWS_CREDENTIALS, cwd=project)
    url = f"http://127.0.0.1:{port}"
    with running(process, lambda: http_ok(f"{url}/2015-03-31/functions/")):
        yield url


@pytest.mark.slow
def test_invoke_answers_the_bytes_raw(served: str, project: Path) -> None:
    client = aws_client("lambda", served)
    response = client.invoke(FunctionName="raw-dev-binary")
    assert "FunctionError" not in response
    assert response["Payload"].read() == bytes(range(256))

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **FAKE_AWS_CREDENTIALS,
        "AWS_ENDPOINT_URL": served,
    }
    command = chalice_command(project, ["invoke", "-n", "text", "--stage", "dev"])
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=PROCESS_START_S, check=False
    )
    assert (done.returncode, done.stdout) == (0, "raw text, not JSON\n"), done.stderr
