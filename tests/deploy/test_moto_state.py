"""moto's backends as ``MotoState`` reads them: fails when moto's methods move or change shape.

moto runs in this process (``mock_aws``: the backends the emulated AWS endpoint
serves); what ``chalice deploy`` creates is made through boto3, and
``MotoState`` must read it back exactly, through moto's public backend
methods. moto is pinned exactly; this is what a new moto version must pass.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import io
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto import mock_aws

from infra.emulated_aws.moto_state import LambdaRecord, MotoState, RuleRecord
from tests.support import FAKE_AWS_CREDENTIALS

ACCOUNT, REGION = "123456789012", "us-east-1"
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
TAG = {"aws-chalice": "version=1.34.0:stage=s:app=app"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in FAKE_AWS_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield {name: boto3.client(name) for name in ("lambda", "events", "iam")}


def zip_of(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def create_function(aws: dict[str, Any], name: str, code: bytes, **settings: Any) -> None:
    role = aws["iam"].create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")
    aws["lambda"].create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handle",
        Code={"ZipFile": code},
        **settings,
    )


def test_a_function_reads_back_as_deployed(aws: dict[str, Any]) -> None:
    code = zip_of("def handle(event, context):\n    return 1\n")
    create_function(
        aws,
        "app-s-job",
        code,
        Environment={"Variables": {"GREETING": "hi"}},
        Timeout=120,
        MemorySize=256,
        Tags=TAG,
    )
    create_function(aws, "bare", zip_of("x = 1\n"))  # no settings, no tags, no environment

    state = MotoState(ACCOUNT, REGION)
    by_name = {record.name: record for record in state.functions()}
    assert by_name["app-s-job"] == LambdaRecord(
        name="app-s-job",
        arn=by_name["app-s-job"].arn,
        handler="app.handle",
        environment={"GREETING": "hi"},
        timeout_s=120,
        memory_mb=256,
        code_sha256=base64.b64encode(hashlib.sha256(code).digest()).decode(),
        tags=TAG,
    )
    assert by_name["app-s-job"].arn.removesuffix(":$LATEST") == ARN + "app-s-job"
    assert by_name["app-s-job"].code_key == hashlib.sha256(code).hexdigest()
    assert (by_name["bare"].environment, by_name["bare"].tags) == ({}, {})
    assert by_name["bare"].timeout_s > 0
    assert by_name["bare"].memory_mb > 0
    assert state.code_bytes("app-s-job") == code

    aws["lambda"].delete_function(FunctionName="app-s-job")
    assert [record.name for record in state.functions()] == ["bare"]
    assert state.code_bytes("app-s-job") is None


def test_rules_read_back_with_their_targets_past_one_page(aws: dict[str, Any]) -> None:
    """moto gives 50 rules a page: every page is read."""
    for number in range(60):
        aws["events"].put_rule(Name=f"rule-{number:02}", ScheduleExpression="rate(5 minutes)")
    aws["events"].put_targets(
        Rule="rule-07", Targets=[{"Id": "1", "Arn": ARN + "a"}, {"Id": "2", "Arn": ARN + "b"}]
    )
    aws["events"].disable_rule(Name="rule-08")
    aws["events"].put_rule(Name="pattern", EventPattern='{"source": ["x"]}')

    rules = {rule.name: rule for rule in MotoState(ACCOUNT, REGION).rules()}
    assert len(rules) == 61
    assert rules["rule-07"] == RuleRecord(
        "rule-07", "rate(5 minutes)", "ENABLED", (ARN + "a", ARN + "b")
    )
    assert rules["rule-08"].state == "DISABLED"
    assert rules["pattern"].expression is None
    assert rules["rule-59"].target_arns == ()


def test_the_backend_methods_read_keep_their_shape() -> None:
    """A new moto that renames or reshapes them fails here, before the endpoint does."""
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.events.models import EventsBackend, Rule

    def parameters(method: Any) -> list[str]:
        return list(inspect.signature(method).parameters)[1:]  # without self

    assert parameters(LambdaBackend.list_functions) == ["func_version"]
    assert parameters(LambdaBackend.list_tags) == ["resource_arn"]
    assert parameters(LambdaBackend.get_function) == ["function_name_or_arn", "qualifier"]
    assert parameters(LambdaFunction.get_configuration) == ["on_create"]
    assert parameters(EventsBackend.list_rules)[:2] == ["prefix", "event_bus_arn"]
    assert parameters(EventsBackend.list_targets_by_rule)[:2] == ["rule_id", "event_bus_arn"]
    assert parameters(Rule.describe) == []
    assert issubclass(UnknownFunctionException, Exception)
