"""The scheduled event and the Lambda context, field by field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from localbridge.events import (
    AwsIdentity,
    ContextFields,
    LambdaContext,
    new_log_stream_name,
    scheduled_event,
)
from tests.localbridge.chalice_project import spec


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_scheduled_event_has_eventbridge_shape() -> None:
    identity = AwsIdentity(account="111122223333", region="eu-west-1")
    at = datetime(2022, 12, 19, 0, 5, 0, 999_000, tzinfo=UTC)

    event = scheduled_event(spec("echo"), at, identity)

    assert uuid.UUID(event.pop("id")).version == 4
    assert event == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "111122223333",
        "time": "2022-12-19T00:05:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:111122223333:rule/demo-dev-echo-event"],
        "detail": {},
    }


def test_every_event_gets_its_own_id() -> None:
    at = datetime(2022, 12, 19, tzinfo=UTC)
    ids = {scheduled_event(spec("echo"), at, AwsIdentity())["id"] for _ in range(3)}
    assert len(ids) == 3


def test_event_time_is_converted_to_utc() -> None:
    at = datetime(2022, 12, 19, 2, 5, tzinfo=timezone(timedelta(hours=2)))
    assert scheduled_event(spec("echo"), at, AwsIdentity())["time"] == "2022-12-19T00:05:00Z"


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        scheduled_event(spec("echo"), datetime(2022, 12, 19), AwsIdentity())


@pytest.mark.parametrize(
    ("environ", "region"),
    [
        ({}, "us-east-1"),
        ({"AWS_REGION": "eu-central-1"}, "eu-central-1"),
        ({"AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "ap-south-1"}, "ap-south-1"),
    ],
)
def test_identity_reads_region_from_environment(environ: dict[str, str], region: str) -> None:
    identity = AwsIdentity.from_environment(environ)
    assert (identity.account, identity.region) == ("123456789012", region)


def test_context_carries_lambda_attributes() -> None:
    function = spec("echo", timeout_s=7)
    fields = ContextFields.for_invocation(
        function, AwsIdentity(), "req-1", "2022/12/19/[$LATEST]abc"
    )

    context = LambdaContext(fields, FakeClock())

    assert context.function_name == "demo-dev-echo"
    assert context.function_version == "$LATEST"
    assert context.invoked_function_arn == (
        "arn:aws:lambda:us-east-1:123456789012:function:demo-dev-echo"
    )
    assert context.memory_limit_in_mb == "128"
    assert context.aws_request_id == "req-1"
    assert context.log_group_name == "/aws/lambda/demo-dev-echo"
    assert context.log_stream_name == "2022/12/19/[$LATEST]abc"


def test_remaining_time_counts_down_from_the_timeout_and_stops_at_zero() -> None:
    clock = FakeClock()
    fields = ContextFields.for_invocation(spec("echo", timeout_s=7), AwsIdentity(), "r", "s")
    context = LambdaContext(fields, clock)

    assert context.get_remaining_time_in_millis() == 7000
    clock.now += 2.5
    assert context.get_remaining_time_in_millis() == 4500
    clock.now += 10
    assert context.get_remaining_time_in_millis() == 0


def test_context_fields_survive_json() -> None:
    fields = ContextFields.for_invocation(spec("echo"), AwsIdentity(), "r", "s")
    assert ContextFields.from_json(fields.to_json()) == fields


def test_log_stream_name_is_shaped_like_lambdas() -> None:
    name = new_log_stream_name(datetime(2022, 12, 19, tzinfo=UTC))
    day, _, rest = name.rpartition("/")
    assert day == "2022/12/19"
    assert rest.startswith("[$LATEST]")
    assert len(rest.removeprefix("[$LATEST]")) == 32
