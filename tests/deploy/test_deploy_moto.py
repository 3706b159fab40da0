"""``make deploy``/``make destroy`` against a real moto server process on 127.0.0.1.

AWS itself cannot be reached from here; moto answers the same IAM, Lambda,
Events and STS APIs, so the real ``chalice deploy`` runs unchanged against it.
Every scheduled function is discovered from the app, never listed here.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localbridge.model import FunctionSpec
from localbridge.project.discovery import discover
from tests.deploy.project_copy import copy_project, edit_stage, stage_config
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    aws_client,
    free_port,
    http_ok,
    running,
    start_process,
)

STAGE = "dev"


@dataclass(frozen=True)
class Moto:
    url: str

    @property
    def environ(self) -> dict[str, str]:
        return {**FAKE_AWS_CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def client(self, service: str) -> Any:
        return aws_client(service, self.url)


@pytest.fixture
def moto(tmp_path: Path) -> Iterator[Moto]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_process(
        ["-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], tmp_path / "moto.log"
    )
    with running(process, lambda: http_ok(f"{url}/moto-api/")):
        yield Moto(url)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def make(
    project_dir: Path, target: str, environ: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(project_dir), target, f"STAGE={STAGE}"],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def scheduled_functions(project_dir: Path) -> list[FunctionSpec]:
    functions = discover(project_dir, STAGE, {})
    assert functions, "the app has no scheduled function to deploy"
    return functions


def snapshot(moto: Moto, functions: list[FunctionSpec]) -> dict[str, Any]:
    """Everything a deploy sets for the app's functions, as the APIs report it."""
    lambda_client, events = moto.client("lambda"), moto.client("events")
    state: dict[str, Any] = {}
    for spec in functions:
        config = lambda_client.get_function_configuration(FunctionName=spec.lambda_name)
        config.pop("ResponseMetadata")
        rule = events.describe_rule(Name=spec.rule_name)
        rule.pop("ResponseMetadata")
        state[spec.name] = {
            "config": config,
            "policy": json.loads(lambda_client.get_policy(FunctionName=spec.lambda_name)["Policy"]),
            "rule": rule,
            "targets": events.list_targets_by_rule(Rule=spec.rule_name)["Targets"],
        }
    return state


def events_invoke_permission(policy: dict[str, Any], rule_arn: str) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and statement["Action"] == "lambda:InvokeFunction"
        and statement["Principal"] == {"Service": "events.amazonaws.com"}
        and statement["Condition"]["ArnLike"]["AWS:SourceArn"] == rule_arn
        for statement in policy["Statement"]
    )


def assert_deployed_like_the_app(state: dict[str, Any], functions: list[FunctionSpec]) -> None:
    for spec in functions:
        deployed = state[spec.name]
        function_arn = deployed["config"]["FunctionArn"]
        assert deployed["config"]["Handler"] == spec.handler
        assert deployed["config"]["Environment"]["Variables"] == dict(spec.environment)
        assert deployed["rule"]["State"] == "ENABLED"
        assert deployed["rule"]["ScheduleExpression"] == spec.expression
        assert [target["Arn"] for target in deployed["targets"]] == [function_arn]
        assert events_invoke_permission(deployed["policy"], deployed["rule"]["Arn"])


def role_policies(moto: Moto, project_dir: Path) -> dict[str, Any]:
    """Role ARN -> its inline policy, for every role chalice created for the stage."""
    record = json.loads((project_dir / ".chalice" / "deployed" / f"{STAGE}.json").read_text())
    iam = moto.client("iam")
    policies = {}
    for role in [r for r in record["resources"] if r["resource_type"] == "iam_role"]:
        [name] = iam.list_role_policies(RoleName=role["role_name"])["PolicyNames"]
        policy = iam.get_role_policy(RoleName=role["role_name"], PolicyName=name)
        policies[role["role_arn"]] = policy["PolicyDocument"]
    return policies


@pytest.mark.slow
def test_deploy_twice_then_destroy(moto: Moto, project: Path) -> None:
    functions = scheduled_functions(project)

    first = make(project, "deploy", moto.environ)
    assert first.returncode == 0, first.stdout + first.stderr
    # The dev stage still names a placeholder API: said before deploying.
    placeholder = stage_config(project, STAGE)["environment_variables"]["RESULTS_API_URL"]
    assert f"warning: stage 'dev' sets RESULTS_API_URL={placeholder}, a placeholder" in first.stderr
    printed_rows = [line.split() for line in first.stdout.splitlines()]
    for spec in functions:
        row = [spec.name, spec.rule_name, *spec.expression.split(), "ENABLED"]
        assert row in printed_rows, first.stdout
    deployed = snapshot(moto, functions)
    assert_deployed_like_the_app(deployed, functions)

    # With a policy file chalice gives each function its own role with that policy.
    policy_file = project / ".chalice" / stage_config(project, STAGE)["iam_policy_file"]
    policies = role_policies(moto, project)
    for spec in functions:
        role = deployed[spec.name]["config"]["Role"]
        assert policies[role] == json.loads(policy_file.read_text())

    second = make(project, "deploy", moto.environ)
    assert second.returncode == 0, second.stdout + second.stderr
    assert snapshot(moto, functions) == deployed

    destroyed = make(project, "destroy", moto.environ)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert moto.client("events").list_rules()["Rules"] == []
    assert moto.client("lambda").list_functions()["Functions"] == []
    assert moto.client("iam").list_roles()["Roles"] == []


def test_unreachable_endpoint_is_one_clear_line(project: Path) -> None:
    nothing_there = f"http://127.0.0.1:{free_port()}"
    result = make(project, "deploy", {**FAKE_AWS_CREDENTIALS, "AWS_ENDPOINT_URL": nothing_there})
    assert result.returncode != 0
    assert f"deploy: error: cannot reach {nothing_there}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / ".chalice" / "deployed" / f"{STAGE}.json").exists()


@pytest.mark.slow
def test_chalice_failure_is_summarised(moto: Moto, project: Path) -> None:
    edit_stage(project, STAGE, iam_policy_file="../infra/no-such-policy.json")
    result = make(project, "deploy", moto.environ)
    assert result.returncode != 0
    [summary] = [line for line in result.stderr.splitlines() if line.startswith("deploy: error:")]
    assert "chalice deploy --stage dev failed" in summary
    assert "no-such-policy.json" in summary
    assert "Traceback" not in result.stdout + result.stderr


MISSING_LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:no-such-layer:1"


@pytest.mark.slow
def test_destroy_removes_what_a_failed_deploy_left_behind(moto: Moto, project: Path) -> None:
    # moto refuses a function whose layer does not exist: the deploy fails after
    # the role and the first function (in name order) were created.
    functions = scheduled_functions(project)
    last = max(spec.name for spec in functions)
    edit_stage(project, STAGE, lambda_functions={last: {"layers": [MISSING_LAYER]}})

    failed = make(project, "deploy", moto.environ)
    assert failed.returncode != 0
    [summary] = [line for line in failed.stderr.splitlines() if line.startswith("deploy: error:")]
    assert summary.rstrip().endswith(f"'{MISSING_LAYER}']"), summary  # the whole message
    assert moto.client("lambda").list_functions()["Functions"], "nothing was left behind"

    destroyed = make(project, "destroy", moto.environ)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert moto.client("lambda").list_functions()["Functions"] == []
    assert moto.client("events").list_rules()["Rules"] == []
    assert moto.client("iam").list_roles()["Roles"] == []
    left = [spec for spec in functions if spec.name != last]
    for spec in left:
        assert f"removed function {spec.lambda_name}" in destroyed.stdout
        assert f"removed rule {spec.rule_name}" in destroyed.stdout
