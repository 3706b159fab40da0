"""The embedded engine of ``make deploy-local``: the emulated AWS, no Docker.

``up`` checks the ports first: it deploys only to an endpoint this checkout
started and posts only to a results API it started (``embedded_owner``), and
refuses anything else on them in one line. Then it starts, in the background,
the results API the functions post to (the stage's ``RESULTS_API_URL``, on
``--api-port`` when given) and the emulated AWS endpoint (``python -m
infra.emulated_aws``), each with a pid file and a log file in
``data/emulated-aws/``; uploads ``data/registrations.db`` where the stage reads
it (an ``s3://`` URI, in the emulated S3); deploys the stage with the real
``chalice deploy`` (``infra.deploy``; through ``stage_view`` when the API's
port is not the stage's, so the deployed functions post where that API
listens); starts the endpoint's clock; and says how to watch, in commands
that work pasted at the project's root. Run again, it redeploys to its own
running endpoint. Should any step fail, it stops what that run started.
``down`` deletes the deployment (from this checkout's endpoint only) and stops
what ``up`` started, by pid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from infra.aws_access import region_of, session_for
from infra.background import Background
from infra.deploy import deploy, destroy, read_config
from infra.deployed import deployed_record, rule_names
from infra.embedded_owner import (
    endpoint_health,
    endpoint_is_ours,
    refuse_api_port,
    results_api_answers,
)
from infra.ports import port_taken
from infra.stage_view import project_view
from localbridge.project.discovery import discover

STAGE = "embedded"
STATE_DIR = Path("data") / "emulated-aws"
READY_TIMEOUT_S = 60.0
LOOPBACK = ("127.0.0.1", "localhost")
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
API_URL_FILE = "results-api.url"


class EmbeddedError(Exception):
    """The embedded engine cannot be brought up or down; the message says why."""


@dataclass(frozen=True)
class Embedded:
    project_dir: Path
    port: int
    environ: Mapping[str, str]
    stage: str = STAGE
    api_port: int | None = None

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
        return {
            **self.environ,
            **TEST_CREDENTIALS,
            "AWS_DEFAULT_REGION": region_of(self.environ),
            "AWS_ENDPOINT_URL": self.url,
        }

    def stage_variables(self) -> dict[str, str]:
        stage: dict[str, Any] = read_config(self.project_dir)["stages"][self.stage]
        return dict(stage.get("environment_variables", {}))

    def overrides(self) -> dict[str, str]:
        """The stage's variables deploy-local replaces: RESULTS_API_URL on ``api_port``."""
        url = self.stage_variables().get("RESULTS_API_URL", "")
        parts = urlsplit(url)
        if self.api_port is None or not loopback_http(url) or parts.port == self.api_port:
            return {}
        moved = parts._replace(netloc=f"{parts.hostname}:{self.api_port}")
        return {"RESULTS_API_URL": urlunsplit(moved)}

    def variables(self) -> dict[str, str]:
        """The environment the deployed functions get."""
        return {**self.stage_variables(), **self.overrides()}


def loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in LOOPBACK and parts.port is not None


def say(line: str) -> None:
    print(line, flush=True)


@dataclass
class Started:
    """What one ``up`` started, to stop should a later step fail."""

    processes: list[Background] = field(default_factory=list)


def api_is_ours(engine: Embedded, url: str) -> bool:
    """This checkout's results API answers at ``url``; one of ours elsewhere is stopped."""
    api = engine.api()
    recorded = engine.state_dir / API_URL_FILE
    pid = api.pid()
    if pid is None:
        return False
    if recorded.is_file() and recorded.read_text().strip() == url and results_api_answers(url):
        return True
    api.stop()
    say(f"Stopped this checkout's results API on {recorded_url(recorded)} (pid {pid}).")
    return False


def recorded_url(path: Path) -> str:
    try:
        return path.read_text().strip() or "another port"
    except OSError:
        return "another port"


def ensure_api(engine: Embedded, started: Started) -> None:
    """Start ``python -m api`` where the functions post, unless this checkout's answers there."""
    url = engine.variables().get("RESULTS_API_URL", "")
    if not loopback_http(url):
        say(f"The stage posts results to {url or '(no RESULTS_API_URL)'}: not starting an API.")
        return
    if api_is_ours(engine, url):
        say(f"Results API: {url} (this checkout's, started earlier); using it.")
        return
    port = urlsplit(url).port
    assert port is not None  # loopback_http
    if port_taken(port):
        raise refuse_api_port(port, frozenset({engine.port}))
    api = engine.api()
    env = {
        **engine.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RESULTS_DB": engine.environ.get("RESULTS_DB", "data/results.db"),
        "PYTHONUNBUFFERED": "1",  # its log shows why, should it stop while starting
    }
    pid = api.start([], env, engine.project_dir)
    started.processes.append(api)
    (engine.state_dir / API_URL_FILE).write_text(f"{url}\n")
    api.wait_ready(lambda: results_api_answers(url), READY_TIMEOUT_S)
    say(f"Results API: started on {url} (pid {pid}, log {api.log_file})")


def endpoint_args(engine: Embedded, clock_start: str | None, speed: str | None) -> list[str]:
    args = ["--port", str(engine.port), "--state-dir", str(engine.state_dir)]
    if clock_start:
        args += ["--clock-start", clock_start]
    if speed:
        args += ["--speed", speed]
    return args


def endpoint_running(engine: Embedded) -> bool:
    """True: this checkout's endpoint answers on the port; False: the port is free."""
    avoid = frozenset() if engine.api_port is None else frozenset({engine.api_port})
    state_dir = engine.state_dir.resolve()
    return endpoint_is_ours(engine.url, engine.port, state_dir, engine.endpoint(), avoid)


def ensure_endpoint(
    engine: Embedded, running: bool, clock_start: str | None, speed: str | None, started: Started
) -> None:
    if running:
        if clock_start or speed:
            say("The endpoint already runs: its clock goes on (CLOCK_START/SPEED apply at start).")
        say(f"Emulated AWS: {engine.url} (this checkout's) already answers; redeploying to it.")
        return
    endpoint = engine.endpoint()
    env = {**engine.environ, **TEST_CREDENTIALS, "PYTHONUNBUFFERED": "1"}
    pid = endpoint.start(endpoint_args(engine, clock_start, speed), env, engine.project_dir)
    started.processes.append(endpoint)
    endpoint.wait_ready(lambda: endpoint_health(engine.url) is not None, READY_TIMEOUT_S)
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


def pasteable_prefix(engine: Embedded) -> str:
    """What a command pasted in a fresh shell needs to reach the endpoint: URL, region, keys."""
    keys = " ".join(f"{name}={value}" for name, value in TEST_CREDENTIALS.items())
    return f"AWS_ENDPOINT_URL={engine.url} AWS_DEFAULT_REGION={region_of(engine.environ)} {keys}"


def how_to_watch(engine: Embedded, clock: str) -> list[str]:
    """Commands that work pasted at the project's root, with what deploy-local installs."""
    names = sorted(rule_names(deployed_record(engine.project_dir, engine.stage)))
    env = pasteable_prefix(engine)
    url = engine.variables().get("RESULTS_API_URL", "http://127.0.0.1:5000")
    lines = [
        "",
        f"The emulated AWS fires these rules now (clock {clock}). Watch them:",
        f"  results:   curl -s '{url}/result?metric=average_weight'",
        f"  runs:      .venv/bin/python -m localbridge runs --ledger {STATE_DIR}/ledger.db",
        f"  endpoint:  tail -f {STATE_DIR}/endpoint.log",
    ]
    if names:
        stage = f"--stage {engine.stage}"
        lines += [
            f"  logs:      {env} .venv/bin/chalice logs -n {names[0]} {stage}",
            f"  invoke:    .venv/bin/python -m localbridge generate-event {names[0]} {stage} "
            f"| {env} .venv/bin/chalice invoke -n {names[0]} {stage}",
            f"             (the functions: {', '.join(names)})",
        ]
    lines.append("  tear down: make destroy-local")
    return lines


def deploy_stage(engine: Embedded) -> None:
    """``chalice deploy`` of the stage, with the variables deploy-local replaces."""
    overrides = engine.overrides()
    if not overrides:
        deploy(engine.project_dir, engine.stage, engine.aws_environ())
        return
    stage = engine.stage_variables()
    for name, value in overrides.items():
        say(f"The functions post to {value}: {name} replaced ({stage.get(name)} in the stage).")
    with project_view(engine.project_dir, engine.stage, overrides) as view:
        deploy(view, engine.stage, engine.aws_environ())


def stop_started(engine: Embedded, started: Started) -> None:
    """Stop what a failed ``up`` started; a deployment to an endpoint stopped is gone too."""
    stopped = []
    for process in reversed(started.processes):
        pid = process.stop()
        if pid is not None:
            stopped.append(f"the {process.name} (pid {pid})")
    if engine.api() in started.processes:
        (engine.state_dir / API_URL_FILE).unlink(missing_ok=True)
    if engine.endpoint() in started.processes:
        forget_deployment(engine)
    if stopped:
        say(f"Stopped what this deploy started: {', '.join(stopped)}.")


def forget_deployment(engine: Embedded) -> None:
    # moto keeps its state in memory: with the endpoint gone, so is the deployment.
    record = engine.project_dir / ".chalice" / "deployed" / f"{engine.stage}.json"
    record.unlink(missing_ok=True)


def up(engine: Embedded, clock_start: str | None, speed: str | None) -> None:
    say(f"Deploying stage {engine.stage!r} to the emulated AWS (no Docker) on {engine.url}")
    running = endpoint_running(engine)
    # The app must import before anything starts: a broken job is reported
    # with its own path, and nothing is left to stop.
    discover(engine.project_dir, engine.stage, {})
    started = Started()
    try:
        ensure_api(engine, started)
        ensure_endpoint(engine, running, clock_start, speed, started)
        upload_data(engine)
        deploy_stage(engine)
        state = start_clock(engine)
    except BaseException:
        stop_started(engine, started)
        raise
    for line in how_to_watch(engine, str(state.get("clock"))):
        say(line)


def down(engine: Embedded) -> None:
    health = endpoint_health(engine.url)
    theirs = None if health is None else health.get("state_dir")
    if health is not None and theirs == str(engine.state_dir.resolve()):
        destroy(engine.project_dir, engine.stage, engine.aws_environ())
    else:
        if health is not None:
            say(
                f"Port {engine.port} serves another checkout's emulated AWS (state in {theirs}): "
                "nothing deleted there."
            )
        record = engine.project_dir / ".chalice" / "deployed" / f"{engine.stage}.json"
        if record.exists():
            forget_deployment(engine)
            say(f"No endpoint of this checkout on {engine.url}: removed {record.name}.")
    for process in (engine.endpoint(), engine.api()):
        pid = process.stop()
        if pid is not None:
            say(f"Stopped the {process.name} (pid {pid}).")
    (engine.state_dir / API_URL_FILE).unlink(missing_ok=True)
