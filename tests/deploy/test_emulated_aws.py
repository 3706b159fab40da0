"""The emulated AWS's parts: moto's state read as FunctionSpecs, the code cache, the engine.

The engine test runs moto in this process (``mock_aws``: the same backends the
endpoint serves) and deploys through boto3 as ``chalice deploy`` would; the
functions run in real worker processes from the unpacked packages.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from moto import mock_aws

from infra.emulated_aws.engine import ClockSetting, Engine
from infra.emulated_aws.logs_sink import lambda_log_lines
from infra.emulated_aws.moto_state import LambdaRecord, RuleRecord, deployed_functions
from infra.emulated_aws.packages import CodeCache, PackageError
from localbridge.events import AwsIdentity
from localbridge.lambda_api.operation import InvokeRequest
from localbridge.model import InvocationResult, Outcome
from tests.support import (
    FAKE_AWS_CREDENTIALS,
    ROOT,
    aws_client,
    free_port,
    http_ok,
    running,
    start_process,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
TAG = {"aws-chalice": "version=1.32.0:stage=s:app=app"}


def record(name: str, tags: dict[str, str] = TAG, **changes: Any) -> LambdaRecord:
    fields: dict[str, Any] = {
        "name": name,
        "arn": ARN + name,
        "handler": "functions.job.job",
        "environment": {"GREETING": "hi"},
        "timeout_s": 60,
        "memory_mb": 256,
        "code_sha256": "AAAA",
        "tags": tags,
    }
    return LambdaRecord(**{**fields, **changes})


def rule(
    name: str, target: str, expression: str | None = "rate(5 minutes)", state: str = "ENABLED"
) -> RuleRecord:
    return RuleRecord(name, expression, state, (ARN + target,))


def test_a_chalice_function_and_its_rule_become_one_spec() -> None:
    [deployed] = deployed_functions(
        [record("app-s-job")], [rule("app-s-job-event", "app-s-job")], {"AWS_ENDPOINT_URL": "x"}
    )
    spec = deployed.spec
    assert (spec.name, spec.app_name, spec.stage) == ("job", "app", "s")
    assert spec.lambda_name == "app-s-job"
    assert (spec.handler, spec.expression, spec.timeout_s, spec.memory_mb) == (
        "functions.job.job",
        "rate(5 minutes)",
        60,
        256,
    )
    assert spec.environment == {"AWS_ENDPOINT_URL": "x", "GREETING": "hi"}
    assert deployed.code_key == "000000"


@pytest.mark.parametrize(
    ("lambdas", "rules"),
    [
        ([record("app-s-job")], [rule("app-s-job-event", "app-s-job", state="DISABLED")]),
        ([record("app-s-job")], [rule("app-s-job-event", "app-s-job", expression=None)]),
        ([record("app-s-job", tags={})], [rule("app-s-job-event", "app-s-job")]),
        ([record("app-s-job")], [rule("another-rule", "app-s-job")]),
        ([record("app-s-job")], [rule("app-s-job-event", "app-s-other")]),
    ],
    ids=["disabled", "no-schedule", "not-chalice", "other-rule-name", "target-gone"],
)
def test_what_does_not_fire(lambdas: list[LambdaRecord], rules: list[RuleRecord]) -> None:
    assert deployed_functions(lambdas, rules) == []


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def sha_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_code_cache_unpacks_once_and_checks_the_bytes(tmp_path: Path) -> None:
    data = zip_of({"handler.py": "X = 1\n"})
    cache = CodeCache(tmp_path / "code")
    reads: list[int] = []

    def read() -> bytes:
        reads.append(1)
        return data

    path = cache.ensure(sha_hex(data), read)
    assert path is not None
    assert (path / "handler.py").read_text() == "X = 1\n"
    assert cache.ensure(sha_hex(data), read) == path
    assert len(reads) == 1
    with pytest.raises(PackageError, match="read back with SHA-256"):
        cache.ensure("0" * 64, read)
    assert cache.ensure("1" * 64, lambda: None) is None
    assert [p.name for p in (tmp_path / "code").iterdir()] == [sha_hex(data)]


def test_log_lines_frame_the_output_as_lambda_does() -> None:
    result = InvocationResult(
        Outcome.ERROR, 10.0, 10.25, error_type="ValueError", error_message="bad", logs="a\nb\n"
    )
    lines = lambda_log_lines("r1", result, 256)
    assert lines[:3] == ["START RequestId: r1 Version: $LATEST", "a", "b"]
    assert lines[3:5] == ["[ERROR] ValueError: bad", "Traceback (most recent call last):"]
    assert lines[5] == "END RequestId: r1"
    assert lines[6].startswith("REPORT RequestId: r1\tDuration: 250.00 ms\tBilled Duration: 250 ms")


HANDLER = """
import os
def handle(event, context):
    print("ran at", event["time"])
    return {"time": event["time"], "greeting": os.environ["GREETING"], "version": VERSION}
"""


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in FAKE_AWS_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield {name: boto3.client(name) for name in ("lambda", "events", "iam", "logs")}


def deploy(aws: dict[str, Any], version: int, expression: str) -> None:
    """What ``chalice deploy`` does for one scheduled function ``app-s-job``."""
    code = zip_of({"handler.py": f"VERSION = {version}\n{HANDLER}"})
    names = [f["FunctionName"] for f in aws["lambda"].list_functions()["Functions"]]
    if "app-s-job" in names:
        aws["lambda"].update_function_code(FunctionName="app-s-job", ZipFile=code)
    else:
        role = aws["iam"].create_role(RoleName="app-s", AssumeRolePolicyDocument="{}")
        aws["lambda"].create_function(
            FunctionName="app-s-job",
            Runtime="python3.11",
            Role=role["Role"]["Arn"],
            Handler="handler.handle",
            Code={"ZipFile": code},
            Environment={"Variables": {"GREETING": "hi"}},
            Tags=TAG,
        )
    aws["events"].put_rule(Name="app-s-job-event", ScheduleExpression=expression)
    aws["events"].put_targets(
        Rule="app-s-job-event", Targets=[{"Id": "1", "Arn": ARN + "app-s-job"}]
    )


def invoke(engine: Engine, time: str = "2022-12-19T00:00:00Z") -> tuple[int, Any]:
    handler = engine.invoke_handler()
    assert handler is not None
    body = json.dumps({"time": time, "detail-type": "Scheduled Event"}).encode()
    response = handler.handle(InvokeRequest("app-s-job", body=body))
    return response.status, json.loads(response.body) if response.body else None


@pytest.mark.slow
def test_engine_follows_redeploys_and_deletes(aws: dict[str, Any], tmp_path: Path) -> None:
    deploy(aws, 1, "rate(5 minutes)")
    start = datetime(2022, 12, 18, 23, 59, tzinfo=UTC)
    engine = Engine(tmp_path, "http://127.0.0.1:9", AwsIdentity(), ClockSetting(start, 1.0))
    engine.start()
    try:
        assert engine.invoke_handler() is None  # a virtual clock waits to be started
        assert engine.health()["clock"] == "waiting"
        engine.start_clock()
        assert invoke(engine) == (
            200,
            {"time": "2022-12-19T00:00:00Z", "greeting": "hi", "version": 1},
        )
        events = aws["logs"].filter_log_events(logGroupName="/aws/lambda/app-s-job")["events"]
        assert "ran at 2022-12-19T00:00:00Z" in [event["message"] for event in events]

        deploy(aws, 2, "cron(0 1 ? * MON *)")  # new code and a new schedule
        engine.poll()  # caught up now, whichever poll (this or the watcher's) saw the change
        assert invoke(engine)[1]["version"] == 2
        assert engine.health()["functions"] == [
            {"name": "app-s-job", "expression": "cron(0 1 ? * MON *)"}
        ]
        assert not engine.poll()  # nothing changed since

        aws["events"].remove_targets(Rule="app-s-job-event", Ids=["1"])
        aws["events"].delete_rule(Name="app-s-job-event")
        engine.poll()  # caught up now, whichever poll (this or the watcher's) saw the change
        assert invoke(engine)[0] == 404
        assert engine.health()["functions"] == []
    finally:
        engine.stop()


def test_endpoint_process_answers_clearly_before_its_clock_starts(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["-m", "infra.emulated_aws", "--port", str(port), "--state-dir", str(tmp_path)]
    process = start_process([*args, "--clock-start", "2022-12-18T23:59:00Z"], tmp_path / "a.log")
    with running(process, lambda: http_ok(f"{url}/_emulated_aws/health")):
        with pytest.raises(ClientError, match="virtual clock that has not started"):
            aws_client("lambda", url).invoke(FunctionName="anything")
        # moto answers everything else on the same port.
        assert aws_client("sts", url).get_caller_identity()["Account"] == "123456789012"
        busy = subprocess.run(
            [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert busy.returncode == 1
        assert busy.stderr.strip().endswith(
            f"cannot listen on 127.0.0.1:{port}: Address already in use"
        )
        assert "Traceback" not in busy.stderr
