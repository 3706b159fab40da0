"""Chalice's ``reserved_concurrency`` as Lambda applies it: 0 throttles every invocation.

A real ``localbridge serve`` on a throwaway project, called with boto3.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from localbridge.project.config import ConfigError
from localbridge.project.loading import load_functions
from tests.localbridge.chalice_project import CONFIG, write_project
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    aws_client,
    free_port,
    http_ok,
    running,
    start_process,
)


def config_with(reserved: Any, max_concurrency: int | None = None) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    config["stages"]["dev"]["lambda_functions"]["echo"]["reserved_concurrency"] = reserved
    if max_concurrency is not None:
        config["stages"]["dev"]["localbridge"] = {"defaults": {"max_concurrency": max_concurrency}}
    return config


def test_reserved_concurrency_is_the_functions_limit(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", config_with(3, max_concurrency=2))
    limits = {s.name: s.settings.max_concurrency for s in load_functions(project, "dev", {})}
    assert limits["echo"] == 2  # the smaller of Chalice's and localbridge's
    assert limits["fails"] == 2
    zero = write_project(tmp_path / "zero", config_with(0))
    limits = {s.name: s.settings.max_concurrency for s in load_functions(zero, "dev", {})}
    assert (limits["echo"], limits["fails"]) == (0, None)


def test_a_negative_reservation_is_refused(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", config_with(-1))
    with pytest.raises(ConfigError, match=r"reserved_concurrency of function 'echo'.* is -1"):
        load_functions(project, "dev", {})


@pytest.fixture
def lambda_client(tmp_path: Path) -> Iterator[Any]:
    project = write_project(tmp_path / "project", config_with(0))
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
def test_zero_throttles_a_synchronous_invoke_as_lambda_does(lambda_client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        lambda_client.invoke(FunctionName="demo-dev-echo")
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # An Event invocation is accepted (and held), as Lambda accepts it.
    assert (
        lambda_client.invoke(FunctionName="demo-dev-echo", InvocationType="Event")["StatusCode"]
        == 202
    )
    # Other functions are not limited.
    assert lambda_client.invoke(FunctionName="demo-dev-logs_info")["StatusCode"] == 200
