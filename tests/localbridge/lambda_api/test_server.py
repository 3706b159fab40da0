"""The Lambda Invoke API, driven by the clients people use: chalice invoke, boto3, AWS CLI.

Each test talks HTTP to a real server on a free 127.0.0.1 port, which runs the
project's real jobs in worker processes against a generated SQLite file and a
real HTTP server recording what the jobs post.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from infra.chalice_cli import chalice_command
from localbridge.events import AwsIdentity, scheduled_event
from localbridge.invokers.process import ProcessInvoker
from localbridge.lambda_api.backends import InvokerBackend
from localbridge.lambda_api.deployed_record import write_deployed_record
from localbridge.lambda_api.operation import LambdaInvokeHandler
from localbridge.lambda_api.server import MAX_PAYLOAD_BYTES, LambdaApiServer
from localbridge.model import FunctionSpec
from localbridge.project.discovery import discover
from tests.deploy.project_copy import copy_project
from tests.support import FAKE_AWS_CREDENTIALS, RecordingServer, aws_client, wait_for

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")

STAGE = "local"
NOW = datetime(2022, 12, 22, 0, 5, tzinfo=UTC)
IDENTITY = AwsIdentity(account="123456789012", region="us-east-1")


@dataclass(frozen=True)
class Emulator:
    url: str
    project: Path
    functions: list[FunctionSpec]
    posted: RecordingServer

    def function(self, name: str) -> FunctionSpec:
        [found] = [f for f in self.functions if f.name == name]
        return found

    def client(self) -> Any:
        return aws_client("lambda", self.url)

    def environ(self) -> dict[str, str]:
        return {**FAKE_AWS_CREDENTIALS, "AWS_ENDPOINT_URL": self.url}


@pytest.fixture(scope="module")
def generated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "registrations.db"
    subprocess.run([sys.executable, "-m", "data", "--out", str(path)], check=True)
    return path


@pytest.fixture
def emulator(
    tmp_path: Path, generated_db: Path, recording_server: RecordingServer
) -> Iterator[Emulator]:
    project = copy_project(tmp_path / "project")
    overrides = {"REGISTRATIONS_DB": str(generated_db), "RESULTS_API_URL": recording_server.url}
    functions = discover(project, STAGE, overrides)
    invoker = ProcessInvoker(project, IDENTITY)
    backend = InvokerBackend(lambda: functions, invoker, IDENTITY, clock=lambda: NOW)
    server = LambdaApiServer(LambdaInvokeHandler(backend, IDENTITY), port=0).start()
    write_deployed_record(project, STAGE, functions, IDENTITY, server.url)
    try:
        yield Emulator(server.url, project, functions, recording_server)
    finally:
        server.stop()
        backend.close()
        invoker.close()


def bad_time_event(function: FunctionSpec) -> dict[str, Any]:
    """A well-formed scheduled event whose time the job cannot read: the job raises."""
    return {**scheduled_event(function, NOW, IDENTITY), "time": "yesterday"}


def run_cli(
    args: list[str], environ: Mapping[str, str], stdin: bytes = b""
) -> subprocess.CompletedProcess[str]:
    # The caller's AWS settings are left out: only the emulator's apply.
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        args,
        input=stdin.decode(),
        env={**base, **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- chalice invoke -----------------------------------------------------------


@pytest.mark.slow
def test_chalice_invoke_runs_the_function_and_prints_its_result(emulator: Emulator) -> None:
    command = chalice_command(
        emulator.project, ["invoke", "-n", "registrations_per_day", "--stage", STAGE]
    )
    done = run_cli(command, emulator.environ())
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    [posted] = emulator.posted.requests
    assert printed == posted.json()
    # No payload: the function got the scheduled event for the emulator's "now".
    assert printed["scheduled_time"] == "2022-12-22T00:05:00Z"
    assert printed["date"] == "2022-12-21"


@pytest.mark.slow
def test_chalice_invoke_reports_a_function_error_and_exits_non_zero(emulator: Emulator) -> None:
    event = bad_time_event(emulator.function("registrations_per_day"))
    command = chalice_command(
        emulator.project, ["invoke", "-n", "registrations_per_day", "--stage", STAGE]
    )
    done = run_cli(command, emulator.environ(), stdin=json.dumps(event).encode())
    assert done.returncode == 1
    assert "Traceback (most recent call last):" in done.stderr
    assert "yesterday" in done.stderr
    assert "Unhandled exception in Lambda function" in done.stderr
    assert emulator.posted.requests == []


# -- boto3 --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "registrations_per_day",
        "metric-jobs-local-registrations_per_day",
        "arn:aws:lambda:us-east-1:123456789012:function:metric-jobs-local-registrations_per_day",
        "arn:aws:lambda:us-east-1:123456789012:function:metric-jobs-local-registrations_per_day:$LATEST",
        "123456789012:function:metric-jobs-local-registrations_per_day",
    ],
)
def test_boto3_invoke_by_any_name_form_returns_the_payload(emulator: Emulator, name: str) -> None:
    response = emulator.client().invoke(FunctionName=name)
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    payload = json.loads(response["Payload"].read())
    [posted] = emulator.posted.requests
    assert payload == posted.json()
    assert payload["function"] == "registrations_per_day"


def test_boto3_function_error_is_reported_the_lambda_way(emulator: Emulator) -> None:
    event = bad_time_event(emulator.function("average_weight_last_week"))
    response = emulator.client().invoke(
        FunctionName="average_weight_last_week", Payload=json.dumps(event), LogType="Tail"
    )
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert set(error) >= {"errorMessage", "errorType", "stackTrace"}
    assert "yesterday" in error["errorMessage"]
    assert error["stackTrace"]
    assert all(frame.startswith("  File ") for frame in error["stackTrace"])
    assert "LogResult" in response


def test_boto3_unknown_function_is_resource_not_found(emulator: Emulator) -> None:
    with pytest.raises(ClientError) as raised:
        emulator.client().invoke(FunctionName="no_such_job")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Code"] == "ResourceNotFoundException"
    assert "no_such_job" in error["Error"]["Message"]


def test_boto3_other_qualifier_is_resource_not_found(emulator: Emulator) -> None:
    with pytest.raises(ClientError) as raised:
        emulator.client().invoke(FunctionName="registrations_per_day", Qualifier="7")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_boto3_bad_payload_is_invalid_request_content(emulator: Emulator, payload: bytes) -> None:
    with pytest.raises(ClientError) as raised:
        emulator.client().invoke(FunctionName="registrations_per_day", Payload=payload)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"
    assert emulator.posted.requests == []


@pytest.mark.parametrize(
    ("length", "status", "error_type"),
    [
        (str(MAX_PAYLOAD_BYTES + 1), 413, "RequestTooLargeException"),
        ("lots", 400, "InvalidRequestContentException"),
    ],
)
def test_oversized_or_garbled_length_is_refused_unread(
    emulator: Emulator, length: str, status: int, error_type: str
) -> None:
    connection = http.client.HTTPConnection(emulator.url.removeprefix("http://"), timeout=10)
    connection.putrequest("POST", "/2015-03-31/functions/registrations_per_day/invocations")
    connection.putheader("Content-Length", length)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == status
    assert response.getheader("x-amzn-ErrorType") == error_type
    assert json.loads(response.read())["Type"] == "User"
    connection.close()
    assert emulator.posted.requests == []


def test_unknown_operation_is_named(emulator: Emulator) -> None:
    response = requests.get(
        f"{emulator.url}/2019-09-30/functions/registrations_per_day/concurrency", timeout=10
    )
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "POST /2015-03-31/functions/{FunctionName}/invocations" in response.json()["message"]


def test_boto3_dry_run_runs_nothing(emulator: Emulator) -> None:
    response = emulator.client().invoke(
        FunctionName="registrations_per_day", InvocationType="DryRun"
    )
    assert response["StatusCode"] == 204
    assert emulator.posted.requests == []


def test_boto3_event_is_accepted_then_runs(emulator: Emulator) -> None:
    response = emulator.client().invoke(
        FunctionName="registrations_per_day", InvocationType="Event"
    )
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    posted = wait_for(lambda: emulator.posted.requests, timeout=30, what="the Event run to post")
    assert posted[0].json()["scheduled_time"] == "2022-12-22T00:05:00Z"


def test_boto3_list_functions_names_every_function(emulator: Emulator) -> None:
    listed = emulator.client().list_functions()["Functions"]
    assert sorted(f["FunctionName"] for f in listed) == sorted(
        f.lambda_name for f in emulator.functions
    )


# -- AWS CLI ------------------------------------------------------------------


def aws_cli(emulator: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        [sys.executable, "-m", "awscli", "--endpoint-url", emulator.url, *args], emulator.environ()
    )


@pytest.mark.slow
def test_aws_cli_invoke_writes_the_payload(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    done = aws_cli(
        emulator, "lambda", "invoke", "--function-name", "registrations_per_day", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    [posted] = emulator.posted.requests
    assert json.loads(out.read_text()) == posted.json()


@pytest.mark.slow
def test_aws_cli_reports_function_error(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    event = json.dumps(bad_time_event(emulator.function("registrations_per_day")))
    done = aws_cli(
        emulator,
        "lambda",
        "invoke",
        "--function-name",
        "registrations_per_day",
        "--payload",
        event,
        str(out),
    )
    # Like Lambda, the call itself succeeds; the CLI shows FunctionError.
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["FunctionError"] == "Unhandled"
    assert "yesterday" in json.loads(out.read_text())["errorMessage"]


@pytest.mark.slow
def test_aws_cli_unknown_function_fails(emulator: Emulator, tmp_path: Path) -> None:
    done = aws_cli(
        emulator, "lambda", "invoke", "--function-name", "nope", str(tmp_path / "out.json")
    )
    assert done.returncode != 0
    assert "ResourceNotFoundException" in done.stderr
    assert "Function not found" in done.stderr
