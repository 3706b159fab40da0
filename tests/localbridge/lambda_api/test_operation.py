"""The Invoke API's pure parts: name forms, stack traces, the chalice record."""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import pytest

from localbridge.events import AwsIdentity
from localbridge.lambda_api.deployed_record import (
    DeployedRecordError,
    deployed_path,
    write_deployed_record,
)
from localbridge.lambda_api.operation import (
    error_payload,
    parse_payload,
    split_qualifier,
    stack_trace,
)
from localbridge.model import FunctionSpec, InvocationResult, Outcome

IDENTITY = AwsIdentity(account="123456789012", region="eu-west-1")
JOB = FunctionSpec(
    name="daily",
    handler="functions.daily.daily",
    expression="cron(5 0 * * ? *)",
    app_name="demo",
    stage="local",
)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("daily", ("daily", None)),
        ("daily:$LATEST", ("daily", "$LATEST")),
        ("demo-local-daily", ("demo-local-daily", None)),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:demo-local-daily",
            ("demo-local-daily", None),
        ),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:demo-local-daily:live",
            ("demo-local-daily", "live"),
        ),
        ("123456789012:function:demo-local-daily", ("demo-local-daily", None)),
        ("123456789012:function:demo-local-daily:3", ("demo-local-daily", "3")),
    ],
)
def test_every_name_form_lambda_accepts_is_split(
    requested: str, expected: tuple[str, str | None]
) -> None:
    assert split_qualifier(requested) == expected


def raise_nested() -> None:
    def inner() -> None:
        raise ValueError("no rows")

    inner()


def test_stack_trace_has_one_entry_per_frame_like_lambda() -> None:
    try:
        raise_nested()
    except ValueError as error:
        formatted = "".join(traceback.format_exception(error))
        expected = traceback.format_list(traceback.extract_tb(error.__traceback__))
    assert stack_trace(formatted) == expected


def test_stack_trace_of_a_chained_exception_keeps_the_last_chain() -> None:
    try:
        try:
            raise KeyError("time")
        except KeyError:
            raise_nested()
    except ValueError as error:
        formatted = "".join(traceback.format_exception(error))
        expected = traceback.format_list(traceback.extract_tb(error.__traceback__))
    assert stack_trace(formatted) == expected


def test_stack_trace_of_nothing_is_empty() -> None:
    assert stack_trace(None) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", None),
        (b"  \n", None),
        (b'{"time": "2022-12-22T00:05:00Z"}', {"time": "2022-12-22T00:05:00Z"}),
    ],
)
def test_payload_is_an_object_or_nothing(body: bytes, expected: object) -> None:
    assert parse_payload(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "Could not parse request body into json"),
        (b'"text"', "JSON str"),
        (b"\xff", "UTF-8"),
    ],
)
def test_bad_payload_says_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_payload(body)


def test_record_gives_chalice_invoke_each_function_arn(tmp_path: Path) -> None:
    path = write_deployed_record(tmp_path, "local", [JOB], IDENTITY, "http://127.0.0.1:3001")
    record = json.loads(path.read_text())
    assert record["schema_version"] == "2.0"
    assert record["resources"] == [
        {
            "name": "daily",
            "resource_type": "lambda_function",
            "lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:demo-local-daily",
        }
    ]
    # Rewriting its own record is fine (every start of the emulator does it).
    write_deployed_record(tmp_path, "local", [], IDENTITY, "http://127.0.0.1:3002")
    assert json.loads(path.read_text())["resources"] == []


def test_record_of_a_real_deployment_is_left_alone(tmp_path: Path) -> None:
    path = deployed_path(tmp_path, "local")
    path.parent.mkdir(parents=True)
    real = {"resources": [], "schema_version": "2.0", "backend": "api"}
    path.write_text(json.dumps(real))
    with pytest.raises(DeployedRecordError, match="real deployment"):
        write_deployed_record(tmp_path, "local", [JOB], IDENTITY, "http://127.0.0.1:3001")
    assert json.loads(path.read_text()) == real


@pytest.mark.parametrize(
    ("outcome", "error_type", "message_part"),
    [
        (Outcome.TIMEOUT, "Sandbox.Timedout", "Task timed out after 60.00 seconds"),
        (
            Outcome.CRASHED,
            "Runtime.ExitError",
            "RequestId: req-1 Error: Runtime exited with error: signal: killed",
        ),
        (Outcome.ERROR, "ValueError", "no rows"),
    ],
)
def test_failed_runs_are_reported_with_lambdas_error_types(
    outcome: Outcome, error_type: str, message_part: str
) -> None:
    result = InvocationResult(
        outcome,
        0.0,
        1.0,
        None,
        "ValueError",
        # As the invokers word it (lambda_errors.exited): the prefix once only.
        "Runtime exited with error: signal: killed" if outcome is Outcome.CRASHED else "no rows",
    )
    payload = error_payload(result, JOB, "req-1")
    assert payload["errorType"] == error_type
    assert message_part in payload["errorMessage"]
    assert payload["errorMessage"].count("Runtime exited with error") <= 1
    assert payload["errorMessage"].count("Runtime exited with error") <= 1
