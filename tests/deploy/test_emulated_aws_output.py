"""What a run gives back on the emulated AWS: its whole log in CloudWatch, its bytes raw.

A real endpoint process (real clock) on a free port, a function deployed with
boto3 as ``chalice deploy`` would, read back with the aws CLI and boto3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.emulated_aws.logs_sink import MAX_EVENT_BYTES, batches, log_events
from tests.deploy.test_emulated_aws import ARN, TAG, zip_of
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    PROCESS_START_S,
    aws_client,
    free_port,
    http_ok,
    running,
    start_process,
    wait_for,
)

LINES = 3000
HANDLER = f"""
def chatty(event, context):
    for number in range({LINES}):
        print(f"line {{number:05d}} " + "x" * 40)
    return "done"


def raw(event, context):
    return b"\\x00\\xffraw bytes"


def nested(event, context):
    return {{"data": b"no"}}
"""


def test_each_line_is_an_event_and_long_ones_are_split() -> None:
    pieces = ["first li", "ne\n\nsecond\n", "é" * 5, "é\nlast"]  # é: two bytes
    assert list(log_events(pieces, limit=8)) == [
        "first li",
        "ne",
        "second",
        "éééé",
        "éé",
        "last",
    ]
    long_line = "y" * (MAX_EVENT_BYTES * 2 + 5)
    events = list(log_events(iter([long_line[:1000], long_line[1000:] + "\nend"])))
    assert [len(e) for e in events] == [MAX_EVENT_BYTES, MAX_EVENT_BYTES, 5, 3]


def test_events_go_in_batches_putlogevents_takes() -> None:
    events = [(1, "z" * 100_000)] * 25 + [(2, "a")] * 20_000
    sizes = [len(batch) for batch in batches(events)]
    assert sum(sizes) == 20_025
    for batch in batches(events):
        assert len(batch) <= 10_000
        assert sum(len(message) + 26 for _, message in batch) <= 1024 * 1024


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


def deploy(endpoint: str, names: list[str]) -> Any:
    """The functions of ``HANDLER`` deployed as Chalice would (a rule each, far ahead)."""
    iam, lambda_client = aws_client("iam", endpoint), aws_client("lambda", endpoint)
    events = aws_client("events", endpoint)
    role = iam.create_role(RoleName="app-s", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = zip_of({"handler.py": HANDLER})
    for name in names:
        lambda_client.create_function(
            FunctionName=f"app-s-{name}",
            Runtime="python3.11",
            Role=role,
            Handler=f"handler.{name}",
            Code={"ZipFile": code},
            Tags=TAG,
        )
        events.put_rule(Name=f"app-s-{name}-event", ScheduleExpression="cron(0 0 1 1 ? 2199)")
        events.put_targets(
            Rule=f"app-s-{name}-event", Targets=[{"Id": "1", "Arn": ARN + f"app-s-{name}"}]
        )

    def followed() -> bool:
        health = requests.get(f"{endpoint}/_emulated_aws/health", timeout=5).json()
        return len(health["functions"]) == len(names)

    wait_for(followed, PROCESS_START_S, what="the engine to follow the deploy")
    return lambda_client


def aws_cli(endpoint: str, *args: str) -> Any:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **FAKE_AWS_CREDENTIALS,
    }
    aws = Path(sys.executable).with_name("aws")
    done = subprocess.run(
        [str(aws), "--endpoint-url", endpoint, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=PROCESS_START_S,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.slow
def test_every_printed_line_reaches_cloudwatch(endpoint: str) -> None:
    lambda_client = deploy(endpoint, ["chatty"])
    response = lambda_client.invoke(FunctionName="app-s-chatty")
    assert json.loads(response["Payload"].read()) == "done"
    request_id = response["ResponseMetadata"]["RequestId"]

    found = aws_cli(
        endpoint, "logs", "filter-log-events", "--log-group-name", "/aws/lambda/app-s-chatty"
    )
    messages = [event["message"] for event in found["events"]]
    printed = [m for m in messages if m.startswith("line ")]
    assert printed == [f"line {n:05d} " + "x" * 40 for n in range(LINES)]
    assert messages[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert messages[-2] == f"END RequestId: {request_id}"
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\t")
    # The ledger's copy, and so the Tail of a synchronous call, stays bounded.
    tailed = lambda_client.invoke(FunctionName="app-s-chatty", LogType="Tail")
    assert len(tailed["LogResult"]) <= 4096 * 4 // 3 + 4


@pytest.mark.slow
def test_top_level_bytes_come_back_raw(endpoint: str, tmp_path: Path) -> None:
    lambda_client = deploy(endpoint, ["raw", "nested"])
    response = lambda_client.invoke(FunctionName="app-s-raw")
    assert "FunctionError" not in response
    assert response["Payload"].read() == b"\x00\xffraw bytes"

    outfile = tmp_path / "out.bin"
    aws_cli(endpoint, "lambda", "invoke", "--function-name", "app-s-raw", str(outfile))
    assert outfile.read_bytes() == b"\x00\xffraw bytes"

    nested = lambda_client.invoke(FunctionName="app-s-nested")
    assert nested["FunctionError"] == "Unhandled"
    assert json.loads(nested["Payload"].read())["errorType"] == "Runtime.MarshalError"
