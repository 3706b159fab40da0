"""The deploy scripts' parts that run without Docker or AWS: policies, output, health wait."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.chalice_cli import TracebackFilter
from infra.localstack import (
    COMPOSE_SERVICES,
    REQUIRED_SERVICES,
    NotHealthyError,
    up_command,
    wait_until_healthy,
)
from tests.deploy.project_copy import stage_config
from tests.support import ROOT, RecordingServer, python_env

AWS_STAGES = ["dev", "prod"]
LOG_ACTIONS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


def s3_object_arn(uri: str) -> str:
    assert uri.startswith("s3://"), f"{uri} is not an s3:// URI"
    return "arn:aws:s3:::" + uri.removeprefix("s3://")


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.mark.parametrize("stage", AWS_STAGES)
def test_aws_policy_allows_reading_exactly_the_data_object(stage: str) -> None:
    settings = stage_config(ROOT, stage)
    assert settings["autogen_policy"] is False
    policy: dict[str, Any] = json.loads(
        (ROOT / ".chalice" / settings["iam_policy_file"]).read_text()
    )
    database = settings["environment_variables"]["REGISTRATIONS_DB"]
    non_log = [s for s in policy["Statement"] if not set(as_list(s["Action"])) <= LOG_ACTIONS]
    assert non_log == [
        {
            "Sid": "ReadRegistrationsDatabase",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": s3_object_arn(database),
        }
    ]
    log_resources = [
        r for s in policy["Statement"] if s not in non_log for r in as_list(s["Resource"])
    ]
    assert log_resources
    assert all(f"/aws/lambda/metric-jobs-{stage}-" in r for r in log_resources)


def chalice_output(*lines: str) -> tuple[TracebackFilter, list[str]]:
    """Feed chalice-like output; return the filter and what it echoed."""
    shown: list[str] = []
    output = TracebackFilter(shown.append)
    for line in lines:
        output.feed(line + "\n")
    return output, shown


def test_traceback_frames_are_hidden_and_the_exception_is_the_summary() -> None:
    output, shown = chalice_output(
        "Creating deployment package.",
        "Traceback (most recent call last):",
        '  File "/x/chalice/cli/__init__.py", line 1, in main',
        "    return cli(obj={})",
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling CreateRole",
        "",
    )
    assert shown == [
        "Creating deployment package.",
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling CreateRole",
    ]
    assert output.summary().endswith("(AccessDenied) when calling CreateRole")


def test_summary_without_traceback_is_the_last_message() -> None:
    output, _ = chalice_output("Creating deployment package.", "Aborted!")
    assert output.summary() == "Aborted!"


def health(*ready: str) -> dict[str, Any]:
    return {
        "services": {
            name: ("available" if name in ready else "error") for name in REQUIRED_SERVICES
        }
    }


def test_health_wait_returns_once_every_needed_service_is_available(
    recording_server: RecordingServer,
) -> None:
    recording_server.responses = [
        (503, {}),
        (200, health("lambda", "iam")),
        (200, health(*REQUIRED_SERVICES)),
    ]
    url = f"{recording_server.url}/_localstack/health"
    wait_until_healthy(url, timeout_s=30, pause=lambda seconds: None)
    assert len(recording_server.requests) == 3


def test_health_wait_gives_up_at_the_deadline_with_a_clear_message(
    recording_server: RecordingServer,
) -> None:
    recording_server.default = (200, health("lambda"))
    now = [0.0]  # a fake monotonic clock that each pause moves forward

    def pause(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(NotHealthyError, match=r"not healthy .* within 5 s"):
        wait_until_healthy(
            f"{recording_server.url}/_localstack/health", 5.0, monotonic=lambda: now[0], pause=pause
        )
    assert len(recording_server.requests) == 11


def test_up_starts_only_api_and_localstack_of_the_compose_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert up_command() == [
        "docker",
        "compose",
        "--profile",
        "localstack",
        "up",
        "-d",
        "--build",
        *COMPOSE_SERVICES,
    ]
    assert set(COMPOSE_SERVICES) <= set(compose["services"])
    services = compose["services"]["localstack"]["environment"]["SERVICES"].split(",")
    assert set(REQUIRED_SERVICES) == set(services)


def test_without_a_docker_engine_up_says_docker_is_needed(tmp_path: Path) -> None:
    # Mocked only in the sense that no engine listens on this socket; here none runs anyway.
    env = python_env({"DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"})
    done = subprocess.run(
        [sys.executable, "-m", "infra.localstack", "up"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("localstack up: error: Docker")
    assert "Traceback" not in done.stderr


def test_wrapped_error_report_is_summarised_whole() -> None:
    # chalice wraps its ERROR report at 80 columns: the summary must not end mid-sentence.
    output, _ = chalice_output(
        "Creating lambda function: metric-jobs-dev-registrations_per_day",
        "ERROR - While deploying your chalice application, received the following",
        "error:",
        "",
        " Waiter FunctionActive failed: Waiter encountered a terminal failure state:",
        ' For expression "State" we matched expected path: "Failed"',
        "",
    )
    assert output.summary() == (
        "ERROR - While deploying your chalice application, received the following error: "
        "Waiter FunctionActive failed: Waiter encountered a terminal failure state: "
        'For expression "State" we matched expected path: "Failed"'
    )


def test_exception_message_on_several_lines_is_kept_whole() -> None:
    output, _ = chalice_output(
        "Traceback (most recent call last):",
        '  File "/x/chalice/deploy/deployer.py", line 1, in deploy',
        "botocore.exceptions.ClientError: An error occurred (InvalidParameterValueException)",
        "when calling the CreateFunction operation: Layers are not valid",
    )
    assert output.summary().endswith("CreateFunction operation: Layers are not valid")
    assert output.summary().startswith("botocore.exceptions.ClientError: An error occurred")


def test_without_a_docker_engine_deploy_local_picks_the_embedded_engine(tmp_path: Path) -> None:
    from infra.deploy_local import choose_engine

    no_engine = {**python_env(), "DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"}
    assert choose_engine("auto", no_engine) == ("embedded", "no Docker engine answers")
    assert choose_engine("localstack", no_engine) == ("localstack", "ENGINE=localstack")
