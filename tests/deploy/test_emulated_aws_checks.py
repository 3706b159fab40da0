"""The emulated AWS refuses what AWS refuses, and one bad rule stops nothing else.

Through boto3 against a real endpoint process (real clock), and against the
engine over moto in this process for a rule that got past the endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from infra.emulated_aws.engine import ClockSetting, Engine
from localbridge.events import AwsIdentity
from tests.deploy.test_emulated_aws import ARN, aws, deploy, invoke, zip_of
from tests.support import RUN_S, aws_client, free_port, http_ok, running, start_process, wait_for

__all__ = ["aws"]  # the fixture, imported to be used here

BAD_SCHEDULES = [
    "cron(0 1 * * MON *)",
    "cron(*/60 * * * ? *)",
    "rate(1 minutes)",
    "rate(0 minutes)",
    "cron(0 1 ? * 0 *)",
    "cron(0 0 1 1 ? 2200)",
]


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    state = tmp_path / "emulated-aws"
    state.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "infra.emulated_aws", "--port", str(port), "--state-dir", str(state)]
    process = start_process(args, state / "endpoint.log")
    with running(process, lambda: http_ok(f"{url}/_emulated_aws/health")):
        yield url


def test_put_rule_refuses_what_eventbridge_refuses(endpoint: str) -> None:
    events = aws_client("events", endpoint)
    for expression in BAD_SCHEDULES:
        with pytest.raises(ClientError) as raised:
            events.put_rule(Name="refused", ScheduleExpression=expression)
        error = raised.value.response["Error"]
        assert (expression, error["Code"], error["Message"]) == (
            expression,
            "ValidationException",
            "Parameter ScheduleExpression is not valid.",
        )
    assert [rule["Name"] for rule in events.list_rules()["Rules"]] == []
    arn = events.put_rule(Name="kept", ScheduleExpression="cron(0 1 ? * MON *)")["RuleArn"]
    assert arn.endswith(":rule/kept")
    assert events.describe_rule(Name="kept")["ScheduleExpression"] == "cron(0 1 ? * MON *)"

    for target in [{"Id": "bad id!", "Arn": ARN + "x"}, {"Id": "1", "Arn": "not-an-arn"}]:
        with pytest.raises(ClientError) as raised:
            events.put_targets(Rule="kept", Targets=[target])
        assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert events.list_targets_by_rule(Rule="kept")["Targets"] == []


@pytest.mark.slow
def test_a_bad_rule_is_skipped_and_the_others_keep_firing(
    aws: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    deploy(aws, 1, "rate(5 minutes)")
    # In this process boto3 reaches moto directly: the rule gets in unchecked.
    role = aws["iam"].get_role(RoleName="app-s")["Role"]["Arn"]
    aws["lambda"].create_function(
        FunctionName="app-s-bad",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handle",
        Code={"ZipFile": zip_of({"handler.py": "def handle(event, context):\n    return 1\n"})},
        Tags={"aws-chalice": "version=1.32.0:stage=s:app=app"},
    )
    aws["events"].put_rule(Name="app-s-bad-event", ScheduleExpression="cron(0 1 * * MON *)")
    aws["events"].put_targets(
        Rule="app-s-bad-event", Targets=[{"Id": "1", "Arn": ARN + "app-s-bad"}]
    )
    start = datetime(2022, 12, 18, 23, 59, tzinfo=UTC)
    engine = Engine(tmp_path, "http://127.0.0.1:9", AwsIdentity(), ClockSetting(start, 1.0))
    engine.start()
    try:
        engine.start_clock()
        assert engine.health()["functions"] == [
            {"name": "app-s-job", "expression": "rate(5 minutes)"}
        ]
        assert invoke(engine)[0] == 200
        assert not engine.poll()
        skipped = [r.message for r in caplog.records if "app-s-bad-event" in r.message]
        assert skipped == [
            "rule app-s-bad-event skipped: cron(0 1 * * MON *): cron: specify either "
            "day-of-month or day-of-week and set the other to '?' (got '*' and 'MON')"
        ]
    finally:
        engine.stop()


@pytest.mark.slow
def test_engine_follows_lambdas_settings_for_the_function(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    deploy(aws, 1, "rate(5 minutes)")
    start = datetime(2022, 12, 18, 23, 59, tzinfo=UTC)
    engine = Engine(tmp_path, "http://127.0.0.1:9", AwsIdentity(), ClockSetting(start, 1.0))
    engine.start()
    try:
        engine.start_clock()
        [spec] = engine.configured()
        assert (spec.settings.maximum_retry_attempts, spec.settings.max_concurrency) == (2, None)
        aws["lambda"].put_function_event_invoke_config(
            FunctionName="app-s-job", MaximumRetryAttempts=0, MaximumEventAgeInSeconds=120
        )
        aws["lambda"].put_function_concurrency(
            FunctionName="app-s-job", ReservedConcurrentExecutions=0
        )
        engine.poll()  # caught up now, whichever poll (this or the watcher's) saw the change
        [spec] = engine.configured()
        assert spec.settings.maximum_retry_attempts == 0
        assert spec.settings.maximum_event_age == timedelta(seconds=120)
        assert spec.settings.max_concurrency == 0
        status, body = invoke(engine)
        assert status == 429
        assert body["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        engine.stop()


def test_reserved_concurrency_zero_throttles_invoke_through_the_endpoint(endpoint: str) -> None:
    clients = {name: aws_client(name, endpoint) for name in ("lambda", "events", "iam", "logs")}
    deploy(clients, 1, "rate(5 minutes)")
    lambda_client = clients["lambda"]

    def deployed() -> bool:
        functions = requests.get(f"{endpoint}/_emulated_aws/health", timeout=5).json()["functions"]
        return [f["name"] for f in functions] == ["app-s-job"]

    wait_for(deployed, RUN_S, what="the engine to follow the deploy")
    payload = json.loads(lambda_client.invoke(FunctionName="app-s-job")["Payload"].read())
    assert payload["version"] == 1
    lambda_client.put_function_concurrency(FunctionName="app-s-job", ReservedConcurrentExecutions=0)

    def throttled() -> bool:
        try:
            lambda_client.invoke(FunctionName="app-s-job")
        except ClientError as error:
            response = error.response
            assert response["Error"]["Code"] == "TooManyRequestsException"
            assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
            return True
        return False

    # The engine follows moto within a poll (half a second).
    wait_for(throttled, RUN_S, what="the engine to follow put-function-concurrency")
