"""The emulated AWS refuses what AWS refuses, and one bad rule stops nothing else.

Through boto3 against a real endpoint process (real clock), and against the
engine over moto in this process for a rule that got past the endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from infra.emulated_aws.engine import ClockSetting, Engine
from localbridge.events import AwsIdentity
from tests.deploy.test_emulated_aws import ARN, aws, deploy, invoke, zip_of
from tests.support import aws_client, free_port, http_ok, running, start_process

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
