"""``python -m infra.localstack up|down``: the app in LocalStack, through docker compose.

``up`` starts the results API and LocalStack (compose profile ``localstack``),
waits for LocalStack's health endpoint under a deadline, deploys the
``localstack`` stage to it with ``infra.deploy`` (test credentials), and says
how to watch runs and results. ``down`` deletes the deployment and stops the
containers. Without a Docker engine it says so in one line. The checks and
read-backs around ``chalice deploy`` (credentials, event invoke configs,
rules) go through ``localstack_client``'s session, LocalStack's own client
factory: every service at the one edge endpoint, with its test credentials.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from infra.aws_access import AwsAccessError
from infra.chalice_cli import ChaliceError
from infra.deploy import PROJECT_DIR, deploy, destroy
from infra.deployed import deployed_record, rule_names

STAGE = "localstack"
ENDPOINT = "http://localhost:4566"
HEALTH_URL = f"{ENDPOINT}/_localstack/health"
# The services `chalice deploy` of scheduled functions calls (compose's SERVICES).
REQUIRED_SERVICES = ("lambda", "events", "iam", "sts", "logs")
READY_STATES = ("available", "running")
COMPOSE_SERVICES = ("api", "localstack")
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class DockerError(Exception):
    """Docker cannot do what is needed; the message says what to install or start."""


class NotHealthyError(Exception):
    """LocalStack did not report the needed services ready before the deadline."""


def compose_command(*args: str) -> list[str]:
    return ["docker", "compose", "--profile", "localstack", *args]


def up_command() -> list[str]:
    # Only the API and LocalStack: the default `scheduler` would fire the same
    # functions a second time, beside LocalStack's own EventBridge.
    return compose_command("up", "-d", "--build", *COMPOSE_SERVICES)


def down_command() -> list[str]:
    return compose_command("down")


@dataclass(frozen=True)
class Docker:
    """Runs docker commands in the project directory with the environment compose needs."""

    project_dir: Path
    environ: Mapping[str, str]

    def env(self) -> dict[str, str]:
        # LAMBDA_DOCKER_FLAGS mounts ${PWD}/data: a host path the daemon resolves.
        return {**self.environ, "PWD": str(self.project_dir)}

    def run(self, command: Sequence[str], capture: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                list(command),
                cwd=self.project_dir,
                env=self.env(),
                capture_output=capture,
                text=True,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except FileNotFoundError:
            raise DockerError(
                "Docker is needed for LocalStack: the `docker` command was not found. "
                "Install Docker (with the compose plugin) and start it."
            ) from None

    def check_ready(self) -> None:
        """Compose v2 present and an engine answering, or a DockerError saying which is missing."""
        if self.run(["docker", "compose", "version"]).returncode != 0:
            raise DockerError(
                "Docker Compose v2 is needed: `docker compose` is not available. "
                "Install the Docker compose plugin."
            )
        info = self.run(["docker", "info", "--format", "{{.ServerVersion}}"])
        if info.returncode != 0:
            raise DockerError(
                "Docker is needed for LocalStack, but no Docker engine is running "
                f"({last_line(info.stderr or info.stdout)}). Start Docker and retry."
            )

    def compose(self, command: Sequence[str]) -> None:
        done = self.run(command, capture=False)
        if done.returncode != 0:
            raise DockerError(f"`{' '.join(command)}` failed (exit {done.returncode}); see above")


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def services_ready(health: Mapping[str, object], required: Sequence[str]) -> bool:
    services = health.get("services")
    if not isinstance(services, dict):
        return False
    return all(services.get(name) in READY_STATES for name in required)


def probe_health(url: str) -> bool:
    try:
        response = requests.get(url, timeout=2)
        return response.ok and services_ready(response.json(), REQUIRED_SERVICES)
    except (requests.RequestException, ValueError):
        return False


def wait_until_healthy(
    url: str,
    timeout_s: float,
    probe: Callable[[str], bool] = probe_health,
    monotonic: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Poll ``url`` until LocalStack reports every required service ready, or raise."""
    deadline = monotonic() + timeout_s
    while not probe(url):
        if monotonic() >= deadline:
            raise NotHealthyError(
                f"LocalStack was not healthy at {url} within {timeout_s:.0f} s "
                f"(needs {', '.join(REQUIRED_SERVICES)} available). "
                "See `docker compose logs localstack`."
            )
        # A polling interval while the container boots, not a wait for time.
        pause(0.5)


def localstack_session(endpoint: str = ENDPOINT) -> Any:
    """A ``localstack_client`` session on ``endpoint``, shaped like boto3's.

    localstack_client prefers ``AWS_ENDPOINT_URL`` from this process's
    environment when it is set, as LocalStack's tools do.
    """
    from localstack_client.session import Session

    return Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=None,
        region_name=TEST_CREDENTIALS["AWS_DEFAULT_REGION"],
        localstack_host=urlparse(endpoint).netloc,
    )


def localstack_environ(environ: Mapping[str, str]) -> dict[str, str]:
    return {**environ, **TEST_CREDENTIALS, "AWS_ENDPOINT_URL": ENDPOINT}


def ensure_data(project_dir: Path, environ: Mapping[str, str]) -> None:
    """Lambda containers read data/registrations.db through the mount: create it if absent."""
    if not (project_dir / "data" / "registrations.db").is_file():
        subprocess.run(
            [sys.executable, "-m", "data"], cwd=project_dir, env=dict(environ), check=True
        )


def how_to_watch(project_dir: Path) -> list[str]:
    functions = sorted(rule_names(deployed_record(project_dir, STAGE)))
    lines = [
        "",
        "LocalStack's EventBridge now fires these functions on their schedules (real time).",
        "Watch them:",
        "  results:     curl -s http://127.0.0.1:5000/result",
        "  containers:  docker compose logs -f localstack api",
    ]
    for name in functions:
        lines.append(
            f"  {name} logs: AWS_ENDPOINT_URL={ENDPOINT} aws logs tail "
            f"/aws/lambda/metric-jobs-{STAGE}-{name} --follow"
        )
    lines.append("  tear down:   make destroy-local")
    return lines


def up(project_dir: Path, environ: Mapping[str, str], timeout_s: float) -> None:
    docker = Docker(project_dir, environ)
    docker.check_ready()
    ensure_data(project_dir, environ)
    docker.compose(up_command())
    print(f"Waiting for LocalStack at {HEALTH_URL} (up to {timeout_s:.0f} s)", flush=True)
    wait_until_healthy(HEALTH_URL, timeout_s)
    deploy(project_dir, STAGE, localstack_environ(environ), localstack_session())
    for line in how_to_watch(project_dir):
        print(line)


def down(project_dir: Path, environ: Mapping[str, str]) -> None:
    docker = Docker(project_dir, environ)
    docker.check_ready()
    if probe_health(HEALTH_URL):
        destroy(project_dir, STAGE, localstack_environ(environ), localstack_session())
    else:
        print(f"LocalStack is not running at {ENDPOINT}: nothing to delete there.")
    docker.compose(down_command())


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.localstack", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to wait for LocalStack's health"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    args = parse_args(argv)
    project_dir: Path = args.project_dir.resolve()
    try:
        if args.command == "up":
            up(project_dir, environ, args.timeout)
        else:
            down(project_dir, environ)
    except (
        DockerError,
        NotHealthyError,
        AwsAccessError,
        ChaliceError,
        subprocess.CalledProcessError,
    ) as exc:
        print(f"localstack {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
