"""The embedded engine of ``make deploy-local``: the emulated AWS, no Docker.

``up`` starts, in the background, the results API the stage posts to (unless
one answers there already) and the emulated AWS endpoint
(``python -m infra.emulated_aws``), each with a pid file and a log file in
``data/emulated-aws/``; uploads ``data/registrations.db`` where the stage
reads it (an ``s3://`` URI, in the emulated S3); deploys the stage with the
real ``chalice deploy`` (``infra.deploy``); starts the endpoint's clock; and
says how to watch. Run again, it redeploys to the running endpoint. ``down``
deletes the deployment and stops what ``up`` started, by pid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from infra.aws_access import session_for
from infra.background import Background
from infra.deploy import deploy, destroy, read_config
from infra.deployed import deployed_record, rule_names

STAGE = "embedded"
STATE_DIR = Path("data") / "emulated-aws"
READY_TIMEOUT_S = 60.0
LOOPBACK = ("127.0.0.1", "localhost")
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


class EmbeddedError(Exception):
    """The embedded engine cannot be brought up or down; the message says why."""


@dataclass(frozen=True)
class Embedded:
    project_dir: Path
    port: int
    environ: Mapping[str, str]
    stage: str = STAGE

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_dir(self) -> Path:
        return self.project_dir / STATE_DIR

    def endpoint(self) -> Background:
        return Background("endpoint", "infra.emulated_aws", self.state_dir)

    def api(self) -> Background:
        return Background("results-api", "api", self.state_dir)

    def aws_environ(self) -> dict[str, str]:
        region = self.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        return {
            **self.environ,
            **TEST_CREDENTIALS,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": self.url,
        }

    def variables(self) -> dict[str, str]:
        stage: dict[str, Any] = read_config(self.project_dir)["stages"][self.stage]
        return dict(stage.get("environment_variables", {}))


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def say(line: str) -> None:
    print(line, flush=True)


def ensure_api(engine: Embedded) -> None:
    """Start ``python -m api`` where the stage posts, unless something answers there."""
    url = engine.variables().get("RESULTS_API_URL", "")
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK or parts.port is None:
        say(f"The stage posts results to {url or '(no RESULTS_API_URL)'}: not starting an API.")
        return
    if answers(f"{url}/health"):
        say(f"Results API: {url} already answers; using it.")
        return
    api = engine.api()
    env = {
        **engine.environ,
        "HOST": "127.0.0.1",
        "PORT": str(parts.port),
        "RESULTS_DB": engine.environ.get("RESULTS_DB", "data/results.db"),
        "PYTHONUNBUFFERED": "1",  # its log shows why, should it stop while starting
    }
    pid = api.start([], env, engine.project_dir)
    api.wait_ready(lambda: answers(f"{url}/health"), READY_TIMEOUT_S)
    say(f"Results API: started on {url} (pid {pid}, log {api.log_file})")


def endpoint_args(engine: Embedded, clock_start: str | None, speed: str | None) -> list[str]:
    args = ["--port", str(engine.port), "--state-dir", str(engine.state_dir)]
    if clock_start:
        args += ["--clock-start", clock_start]
    if speed:
        args += ["--speed", speed]
    return args


def ensure_endpoint(engine: Embedded, clock_start: str | None, speed: str | None) -> None:
    health = f"{engine.url}/_emulated_aws/health"
    if answers(health):
        if clock_start or speed:
            say("The endpoint already runs: its clock goes on (CLOCK_START/SPEED apply at start).")
        say(f"Emulated AWS: {engine.url} already answers; redeploying to it.")
        return
    endpoint = engine.endpoint()
    env = {**engine.environ, **TEST_CREDENTIALS, "PYTHONUNBUFFERED": "1"}
    pid = endpoint.start(endpoint_args(engine, clock_start, speed), env, engine.project_dir)
    endpoint.wait_ready(lambda: answers(health), READY_TIMEOUT_S)
    clock = f"virtual clock from {clock_start or 'now'} at {speed or '1'}x"
    if not (clock_start or speed):
        clock = "real clock"
    say(f"Emulated AWS: started on {engine.url} (pid {pid}, {clock}, log {endpoint.log_file})")


def upload_data(engine: Embedded) -> None:
    """Put data/registrations.db where the stage reads it, when that is an S3 URI."""
    location = engine.variables().get("REGISTRATIONS_DB", "")
    if not location.startswith("s3://"):
        return
    parts = urlsplit(location)
    bucket, key = parts.netloc, parts.path.lstrip("/")
    source = engine.project_dir / "data" / "registrations.db"
    if not source.is_file():
        raise EmbeddedError(f"{source} does not exist: run `make data` first")
    s3 = session_for(engine.aws_environ()).client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(source), bucket, key)
    say(f"Uploaded {source.relative_to(engine.project_dir)} to {location} (emulated S3)")


def start_clock(engine: Embedded) -> dict[str, Any]:
    response = requests.post(f"{engine.url}/_emulated_aws/clock/start", timeout=30)
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def how_to_watch(engine: Embedded, clock: str) -> list[str]:
    names = sorted(rule_names(deployed_record(engine.project_dir, engine.stage)))
    app = read_config(engine.project_dir)["app_name"]
    prefix = f"AWS_ENDPOINT_URL={engine.url}"
    url = engine.variables().get("RESULTS_API_URL", "http://127.0.0.1:5000")
    lines = [
        "",
        f"The emulated AWS fires these rules now (clock {clock}). Watch them:",
        f"  results:   curl -s '{url}/result?metric=average_weight'",
        f"  runs:      .venv/bin/python -m localbridge runs --ledger {STATE_DIR}/ledger.db",
        f"  endpoint:  tail -f {STATE_DIR}/endpoint.log",
    ]
    if names:
        lines += [
            f"  logs:      {prefix} chalice logs -n NAME --stage {engine.stage}",
            f"             {prefix} aws logs filter-log-events "
            f"--log-group-name /aws/lambda/{app}-{engine.stage}-NAME",
            f"             (NAME: {', '.join(names)})",
            f"  invoke:    {prefix} chalice invoke -n {names[0]} --stage {engine.stage}",
        ]
    lines.append("  tear down: make destroy-local")
    return lines


def up(engine: Embedded, clock_start: str | None, speed: str | None) -> None:
    say(f"Deploying stage {engine.stage!r} to the emulated AWS (no Docker) on {engine.url}")
    ensure_api(engine)
    ensure_endpoint(engine, clock_start, speed)
    upload_data(engine)
    deploy(engine.project_dir, engine.stage, engine.aws_environ())
    state = start_clock(engine)
    for line in how_to_watch(engine, str(state.get("clock"))):
        say(line)


def down(engine: Embedded) -> None:
    record = engine.project_dir / ".chalice" / "deployed" / f"{engine.stage}.json"
    if answers(f"{engine.url}/_emulated_aws/health"):
        destroy(engine.project_dir, engine.stage, engine.aws_environ())
    elif record.exists():
        # moto keeps its state in memory: with the endpoint gone, so is the deployment.
        record.unlink()
        say(f"No endpoint on {engine.url}: nothing is deployed there; removed {record.name}.")
    for process in (engine.endpoint(), engine.api()):
        pid = process.stop()
        if pid is not None:
            say(f"Stopped the {process.name} (pid {pid}).")
