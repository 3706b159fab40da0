"""The Lambda API's read operations and Invoke's headers, through boto3 and the AWS CLI.

A real server on a free 127.0.0.1 port runs a throwaway Chalice project's
functions in thread mode; the clients are the real ones.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from localbridge.events import AwsIdentity
from localbridge.invokers.thread import ThreadInvoker
from localbridge.lambda_api.backends import InvokerBackend
from localbridge.lambda_api.operation import LambdaInvokeHandler
from localbridge.lambda_api.server import LambdaApiServer
from localbridge.model import FunctionSettings
from tests.localbridge.chalice_project import spec, write_project
from tests.support import FAKE_AWS_CREDENTIALS, aws_client

IDENTITY = AwsIdentity(account="000000000000", region="us-east-1")
NOW = datetime(2022, 12, 22, 0, 5, tzinfo=UTC)
SETTINGS = FunctionSettings(maximum_retry_attempts=1, maximum_event_age=timedelta(hours=1))
ECHO = replace(spec("echo", RESULTS_API_TOKEN="s3cret", SHARED="x"), settings=SETTINGS)
FUNCTIONS = [ECHO, *(spec(name) for name in ("fails", "chatty", "context_details", "decimals"))]
ECHO_ARN = f"arn:aws:lambda:us-east-1:000000000000:function:{ECHO.lambda_name}"


def serve(tmp_path: Path, show_environment: bool) -> Iterator[str]:
    invoker = ThreadInvoker(write_project(tmp_path / "project"), IDENTITY)
    backend = InvokerBackend(lambda: FUNCTIONS, invoker, IDENTITY, clock=lambda: NOW)
    handler = LambdaInvokeHandler(backend, IDENTITY, show_environment=show_environment)
    server = LambdaApiServer(handler, port=0).start()
    try:
        yield server.url
    finally:
        server.stop()
        backend.close()
        invoker.close()


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    yield from serve(tmp_path, show_environment=False)


def lambda_client(url: str) -> Any:
    return aws_client("lambda", url)


def test_get_function_configuration_describes_the_function(url: str) -> None:
    config = lambda_client(url).get_function_configuration(FunctionName="echo")

    assert config["FunctionName"] == ECHO.lambda_name
    assert config["FunctionArn"] == ECHO_ARN
    assert (config["Handler"], config["Timeout"], config["MemorySize"]) == ("tasks.echo", 30, 128)
    assert config["Runtime"].startswith("python3")
    # Secrets are not handed to whoever asks: the names show, the values do not.
    assert config["Environment"]["Variables"] == {"RESULTS_API_TOKEN": "****", "SHARED": "****"}
    assert config["ResponseMetadata"]["RequestId"]


def test_environment_values_show_when_the_server_is_told_to(tmp_path: Path) -> None:
    for url in serve(tmp_path, show_environment=True):
        listed = lambda_client(url).list_functions()["Functions"]
        [echo] = [f for f in listed if f["FunctionName"] == ECHO.lambda_name]
        assert echo["Environment"]["Variables"]["RESULTS_API_TOKEN"] == "s3cret"


def test_get_function_and_its_event_invoke_config(url: str) -> None:
    client = lambda_client(url)

    function = client.get_function(FunctionName=ECHO_ARN)
    invoke_config = client.get_function_event_invoke_config(FunctionName="echo")

    assert function["Configuration"]["FunctionArn"] == ECHO_ARN
    assert function["Code"]["RepositoryType"] == "S3"
    assert invoke_config["FunctionArn"] == f"{ECHO_ARN}:$LATEST"
    assert invoke_config["MaximumRetryAttempts"] == 1
    assert invoke_config["MaximumEventAgeInSeconds"] == 3600


def test_list_functions_pages_with_max_items_and_marker(url: str) -> None:
    client = lambda_client(url)
    first = client.list_functions(MaxItems=2)
    second = client.list_functions(MaxItems=2, Marker=first["NextMarker"])
    third = client.list_functions(MaxItems=2, Marker=second["NextMarker"])
    everything = client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 3})

    pages = [first, second, third]
    names = [f["FunctionName"] for page in pages for f in page["Functions"]]
    assert [len(page["Functions"]) for page in pages] == [2, 2, 1]
    assert "NextMarker" not in third
    assert names == sorted(f.lambda_name for f in FUNCTIONS)
    assert [f["FunctionName"] for p in everything for f in p["Functions"]] == names


@pytest.mark.parametrize("max_items", ["0", "lots", "10001"])
def test_a_bad_max_items_is_an_invalid_parameter(url: str, max_items: str) -> None:
    # boto3 checks MaxItems itself: plain HTTP, as any other client might send it.
    response = requests.get(f"{url}/2015-03-31/functions/?MaxItems={max_items}", timeout=30)
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    assert "MaxItems" in response.json()["message"]


@pytest.mark.parametrize(
    "name",
    [
        f"arn:aws:lambda:us-east-1:111111111111:function:{ECHO.lambda_name}",
        f"arn:aws:lambda:eu-west-1:000000000000:function:{ECHO.lambda_name}",
        f"111111111111:function:{ECHO.lambda_name}",
    ],
)
def test_an_arn_of_another_account_or_region_is_not_found(url: str, name: str) -> None:
    client = lambda_client(url)
    for call in (client.invoke, client.get_function):
        with pytest.raises(ClientError) as raised:
            call(FunctionName=name)
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert name.split(":function:")[0] in raised.value.response["Error"]["Message"]


def test_client_context_and_qualifier_reach_the_context(url: str) -> None:
    context = {"custom": {"run": "manual"}, "env": {"k": "v"}, "client": {"app_title": "cli"}}
    response = lambda_client(url).invoke(
        FunctionName="context_details",
        Qualifier="$LATEST",
        ClientContext=base64.b64encode(json.dumps(context).encode()).decode(),
    )
    payload = json.loads(response["Payload"].read())
    assert payload["client_context"] == [{"run": "manual"}, {"k": "v"}, "cli"]
    assert payload["arn"].endswith(":function:demo-dev-context_details:$LATEST")
    assert payload["tenant_id"] is None


def test_a_client_context_that_is_not_base64_json_is_refused(url: str) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client(url).invoke(FunctionName="echo", ClientContext="not base64 json!")
    assert raised.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_an_event_payload_over_one_mb_is_too_large(url: str) -> None:
    payload = json.dumps({"detail": {"x": "y" * (1024 * 1024)}})
    with pytest.raises(ClientError) as raised:
        lambda_client(url).invoke(FunctionName="echo", InvocationType="Event", Payload=payload)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert raised.value.response["Error"]["Code"] == "RequestTooLargeException"


def test_the_log_tail_is_lambdas_framed_log(url: str) -> None:
    response = lambda_client(url).invoke(FunctionName="fails", LogType="Tail")
    tail = base64.b64decode(response["LogResult"]).decode()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert tail.startswith(f"START RequestId: {request_id} Version: $LATEST\n")
    assert "\n[ERROR] ValueError: no rows for 2022-12-22T00:05:00Z\n" in tail
    assert f"\nEND RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: " in tail
    assert json.loads(response["Payload"].read())["requestId"] == request_id


def test_the_log_tail_keeps_the_last_4_kb(url: str) -> None:
    response = lambda_client(url).invoke(FunctionName="chatty", LogType="Tail")
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096
    assert b"\nEND RequestId: " in tail


def aws_cli(url: str, *args: str) -> Any:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", url, "lambda", *args],
        env={**base, **FAKE_AWS_CREDENTIALS}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_aws_cli_invoke_with_the_log_tail(url: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    shown = aws_cli(url, "invoke", "--function-name", "fails", "--log-type", "Tail", str(out))
    tail = base64.b64decode(shown["LogResult"]).decode()
    assert shown["FunctionError"] == "Unhandled"
    assert "[ERROR] ValueError: no rows for 2022-12-22T00:05:00Z" in tail
    assert "\nREPORT RequestId: " in tail
    assert json.loads(out.read_text())["errorType"] == "ValueError"


@pytest.mark.slow
def test_aws_cli_get_function_and_configuration(url: str) -> None:
    outputs = [
        aws_cli(url, operation, "--function-name", "echo")
        for operation in (
            "get-function", "get-function-configuration", "get-function-event-invoke-config"
        )
    ]  # fmt: skip
    function, configuration, invoke_config = outputs
    assert function["Configuration"] == configuration
    assert configuration["FunctionArn"] == ECHO_ARN
    assert invoke_config["MaximumRetryAttempts"] == 1
