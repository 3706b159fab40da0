"""The LocalStack path's checks and read-backs go through ``localstack_client``.

The embedded emulated AWS stands in for LocalStack (no Docker here): the real
``infra.deploy.deploy`` runs ``chalice deploy`` against it, and every check
and read-back around it uses ``infra.localstack.localstack_session``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.aws_access import check_access
from infra.deploy import deploy
from infra.localstack import localstack_session
from tests.deploy.project_copy import copy_project
from tests.support import FAKE_AWS_CREDENTIALS, free_port, http_ok, running, start_process

STAGE = "embedded"


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # localstack_client prefers this process's AWS_ENDPOINT_URL: none here.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state = tmp_path / "emulated-aws"
    state.mkdir()
    args = ["-m", "infra.emulated_aws", "--port", str(port), "--state-dir", str(state)]
    process = start_process(args, state / "endpoint.log")
    with running(process, lambda: http_ok(f"{url}/_emulated_aws/health")):
        yield url


def test_session_reaches_every_service_at_the_endpoint(endpoint: str) -> None:
    session = localstack_session(endpoint)
    assert check_access(session, {"AWS_ENDPOINT_URL": endpoint}) == "123456789012"
    for service in ("lambda", "events", "iam", "logs"):
        assert session.client(service).meta.endpoint_url == endpoint


@pytest.mark.slow
def test_deploy_reads_back_through_localstack_client(
    endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(tmp_path / "project")
    environ = {**FAKE_AWS_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    session = localstack_session(endpoint)
    deploy(project, STAGE, environ, session)
    printed = capsys.readouterr().out
    assert "Asynchronous invocation of stage 'embedded', as Lambda reports it:" in printed
    assert "Scheduled functions of stage 'embedded', as EventBridge reports them:" in printed
    functions = session.client("lambda").list_functions()["Functions"]
    assert functions
    for function in functions:
        config = session.client("lambda").get_function_event_invoke_config(
            FunctionName=function["FunctionName"]
        )
        assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 21600)
