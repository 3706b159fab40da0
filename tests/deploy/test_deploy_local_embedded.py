"""``make deploy-local ENGINE=embedded``: the real ``chalice deploy`` to the emulated AWS.

No Docker here, and none needed: a copy of the project is deployed with the
real ``make``, ``chalice`` and ``aws`` commands to the endpoint
``make deploy-local`` starts (moto in-process, localbridge firing the rules),
on free ports, with a virtual clock. The deployed functions must post their
results, run the deployed code (not the edited working tree), log to
CloudWatch, pick up a redeploy, and leave nothing behind on destroy.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.background import Background
from localbridge.events import AwsIdentity, scheduled_event
from localbridge.model import FunctionSpec
from localbridge.project.discovery import discover
from tests.deploy.project_copy import copy_project, edit_stage, stage_config
from tests.support import FAKE_AWS_CREDENTIALS, ROOT, aws_client, free_port, wait_for

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")

STAGE = "embedded"
CLOCK_START = "2022-12-18T23:59:00Z"
# One virtual day per real second: the weekly job added below fires within
# about seven seconds of its deploy, whatever weekday the clock shows then.
SPEED = 86400
CHALICE = [sys.executable, "-c", "import sys; from chalice.cli import main; sys.exit(main())"]
AWS = [sys.executable, "-m", "awscli"]
EXAMPLE_JOB = "functions/registrations_last_week.py"


@dataclass(frozen=True)
class Deployment:
    project: Path
    endpoint: str
    api: str

    @property
    def environ(self) -> dict[str, str]:
        return {**os.environ, **FAKE_AWS_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def make(self, target: str, *variables: str) -> subprocess.CompletedProcess[str]:
        port = self.endpoint.rsplit(":", 1)[1]
        options = ["ENGINE=embedded", f"ENDPOINT_PORT={port}", *variables]
        return subprocess.run(
            ["make", "--no-print-directory", "-C", str(self.project), target, *options],
            env={k: v for k, v in self.environ.items() if k != "AWS_ENDPOINT_URL"},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def run(self, command: list[str], stdin: str = "") -> str:
        done = subprocess.run(
            command,
            cwd=self.project,
            env=self.environ,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def results(self, metric: str) -> list[dict[str, Any]]:
        try:
            response = requests.get(f"{self.api}/result", params={"metric": metric}, timeout=5)
        except requests.RequestException:
            return []  # not answering yet (refused, reset, timed out): nothing posted yet
        return [row["result"] for row in response.json()] if response.ok else []


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    project = copy_project(tmp_path / "project")
    api = f"http://127.0.0.1:{free_port()}"
    variables = stage_config(project, STAGE)["environment_variables"]
    edit_stage(project, STAGE, environment_variables={**variables, "RESULTS_API_URL": api})
    subprocess.run(
        [sys.executable, "-m", "data", "--out", str(project / "data" / "registrations.db")],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        yield Deployment(project, f"http://127.0.0.1:{free_port()}", api)
    finally:
        # Whatever the test did, nothing it started outlives it (verified pids only).
        state = project / "data" / "emulated-aws"
        Background("endpoint", "infra.emulated_aws", state).stop(grace_s=5)
        Background("results-api", "api", state).stop(grace_s=5)


def registrations(project: Path, start: str, end: str) -> tuple[int, float | None]:
    with sqlite3.connect(project / "data" / "registrations.db") as db:
        count, average = db.execute(
            "SELECT count(*), avg(weight) FROM registration WHERE timestamp >= ? AND timestamp < ?",
            (start, end),
        ).fetchone()
    return count, average


def event_at(function: FunctionSpec, instant: str) -> str:
    at = datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(UTC)
    return json.dumps(scheduled_event(function, at, AwsIdentity()))


def listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        return sock.connect_ex((host, int(port))) == 0


def example_job_source() -> str:
    """The README's "adding a job" example, wherever the guide lives now."""
    for guide in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        if not guide.is_file():
            continue
        for block in re.findall(r"```python\n(.*?)```", guide.read_text(), re.S):
            if block.startswith(f"# {EXAMPLE_JOB}"):
                return str(block)
    raise AssertionError(f"no python block starting with '# {EXAMPLE_JOB}' in the guides")


def first_tick_deadline(virtual_seconds: float) -> float:
    """Real seconds to wait for a tick that far ahead: its share of the speed plus start-up."""
    return virtual_seconds / SPEED + 30.0


def assert_week_50_posted(deployment: Deployment) -> None:
    """Week 50's average, posted by the deployed function on Monday 01:00 (61 virtual min in)."""
    count, average = registrations(deployment.project, "2022-12-12", "2022-12-19")
    posted = wait_for(
        lambda: [r for r in deployment.results("average_weight") if r["week"] == "2022-W50"],
        first_tick_deadline(61 * 60),
        "the week-50 average in the results API",
    )
    assert posted[0]["count"] == count
    assert posted[0]["value"] == pytest.approx(average)


def assert_rules_as_deployed(deployment: Deployment, specs: dict[str, FunctionSpec]) -> None:
    """The rules, through the AWS CLI and boto3."""
    rules = json.loads(deployment.run([*AWS, "events", "list-rules"]))["Rules"]
    listed = {rule["Name"]: rule["ScheduleExpression"] for rule in rules}
    assert listed == {spec.rule_name: spec.expression for spec in specs.values()}
    events = aws_client("events", deployment.endpoint)
    for spec in specs.values():
        assert events.describe_rule(Name=spec.rule_name)["State"] == "ENABLED"


@pytest.mark.slow
def test_deploy_local_fires_the_deployed_code_then_destroy_leaves_nothing(
    deployment: Deployment,
) -> None:
    project = deployment.project
    specs = {spec.name: spec for spec in discover(project, STAGE, {})}
    first = deployment.make("deploy-local", f"CLOCK_START={CLOCK_START}", f"SPEED={SPEED}")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "engine embedded (ENGINE=embedded)" in first.stdout
    for spec in specs.values():
        assert [spec.name, spec.rule_name, *spec.expression.split(), "ENABLED"] in [
            line.split() for line in first.stdout.splitlines()
        ], first.stdout
    assert_week_50_posted(deployment)
    assert_rules_as_deployed(deployment, specs)

    # chalice invoke runs the deployed code, not the working tree edited since.
    daily = project / "functions" / "registrations_per_day.py"
    daily.write_text(daily.read_text().replace('"metric": "registrations"', '"metric": "edited"'))
    tick = event_at(specs["registrations_per_day"], "2022-12-22T00:05:00Z")
    invoke = [*CHALICE, "invoke", "-n", "registrations_per_day", "--stage", STAGE]
    answer = json.loads(deployment.run(invoke, stdin=tick))
    assert answer["metric"] == "registrations"
    assert answer["count"] == registrations(project, "2022-12-21", "2022-12-22")[0]

    # chalice logs reads the function's CloudWatch log group.
    logs = deployment.run([*CHALICE, "logs", "-n", "average_weight_last_week", "--stage", STAGE])
    assert "posted average_weight_last_week/2022-12-19T01:00:00Z: HTTP 201" in logs

    # The README's example job, and the edit, go live with a redeploy.
    (project / EXAMPLE_JOB).write_text(example_job_source())
    second = deployment.make("deploy-local")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "redeploying to it" in second.stdout
    # A new instant: the API refuses a second, different body for the same run.
    later = event_at(specs["registrations_per_day"], "2030-01-01T00:05:00Z")
    assert json.loads(deployment.run(invoke, stdin=later))["metric"] == "edited"
    wait_for(
        lambda: deployment.results("registrations_week"),
        first_tick_deadline(7 * 24 * 3600),
        "the new weekly job to fire and post",
    )

    destroyed = deployment.make("destroy-local")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "Deleted 3 scheduled function(s)" in destroyed.stdout
    assert f"Nothing else of stage '{STAGE}'" in destroyed.stdout
    assert not listening(deployment.endpoint)
    assert not listening(deployment.api)
    assert not list((project / "data" / "emulated-aws").glob("*.pid"))
