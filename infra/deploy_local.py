"""``python -m infra.deploy_local up|down``: ``make deploy-local`` and ``make destroy-local``.

Picks the engine: LocalStack in docker compose (``infra.localstack``) when a
Docker engine answers, otherwise the embedded emulated AWS
(``infra.embedded``); ``--engine`` forces one. ``up`` says which it used and
remembers it (with the endpoint port) in ``data/deploy-local.json``, so
``down`` tears down the same one. ``--api-port`` is where the embedded
engine's results API listens and its deployed functions post (by default the
stage's ``RESULTS_API_URL``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import requests
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from infra.aws_access import AwsAccessError
from infra.background import StartError
from infra.chalice_cli import ChaliceError
from infra.deploy import PROJECT_DIR, StageError
from infra.embedded import Embedded, EmbeddedError
from infra.embedded import down as embedded_down
from infra.embedded import up as embedded_up
from infra.embedded_owner import PortTakenError
from infra.localstack import DockerError, NotHealthyError
from infra.localstack import main as localstack_main
from localbridge.project.config import ConfigError

ENGINES = ("auto", "localstack", "embedded")
DEFAULT_PORT = 4566
RECORD = Path("data") / "deploy-local.json"


def docker_answers(environ: Mapping[str, str]) -> bool:
    """True when a Docker engine answers ``docker info`` (within 10 s)."""
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            env=dict(environ),
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def choose_engine(requested: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """(engine, why) for ``--engine auto|localstack|embedded``."""
    if requested != "auto":
        return requested, f"ENGINE={requested}"
    if docker_answers(environ):
        return "localstack", "a Docker engine answers"
    return "embedded", "no Docker engine answers"


def read_record(project_dir: Path) -> dict[str, object]:
    try:
        record: dict[str, object] = json.loads((project_dir / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return record


def write_record(project_dir: Path, engine: str, port: int) -> None:
    path = project_dir / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"engine": engine, "port": port}) + "\n")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy_local", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--engine", choices=ENGINES, default="auto")
    parser.add_argument("--port", type=int, help=f"the embedded endpoint (default {DEFAULT_PORT})")
    parser.add_argument(
        "--api-port", type=int, help="the results API the deployed functions post to (embedded)"
    )
    parser.add_argument("--clock-start", help="virtual clock start (embedded; ISO-8601 UTC)")
    parser.add_argument("--speed", help="virtual clock speed, x real time (embedded)")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR)
    return parser.parse_args(argv)


def up(args: argparse.Namespace, project_dir: Path, environ: Mapping[str, str]) -> int:
    engine, why = choose_engine(args.engine, environ)
    print(f"deploy-local: engine {engine} ({why})", flush=True)
    if engine == "localstack":
        if args.api_port is not None:
            print(
                "deploy-local: API_PORT applies to the embedded engine; in LocalStack the "
                "functions post to the compose service `api` (the localstack stage's URL)",
                flush=True,
            )
        write_record(project_dir, engine, DEFAULT_PORT)
        return localstack_main(["up", "--project-dir", str(project_dir)], environ)
    port = args.port or DEFAULT_PORT
    embedded = Embedded(project_dir, port, environ, api_port=args.api_port)
    embedded_up(embedded, args.clock_start, args.speed)
    write_record(project_dir, engine, port)
    return 0


def down(args: argparse.Namespace, project_dir: Path, environ: Mapping[str, str]) -> int:
    record = read_record(project_dir)
    recorded = str(record.get("engine", ""))
    engine = args.engine if args.engine != "auto" else recorded or choose_engine("auto", environ)[0]
    print(f"destroy-local: engine {engine}", flush=True)
    if engine == "localstack":
        return localstack_main(["down", "--project-dir", str(project_dir)], environ)
    recorded_port = record.get("port")
    port = args.port or (recorded_port if isinstance(recorded_port, int) else DEFAULT_PORT)
    embedded_down(Embedded(project_dir, port, environ))
    (project_dir / RECORD).unlink(missing_ok=True)
    return 0


def one_line(error: Exception) -> str:
    """The error in one line: a message that quotes a traceback keeps its head and its cause."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) <= 1:
        return lines[0] if lines else type(error).__name__
    return f"{lines[0].rstrip(':')}: {lines[-1]}"


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    args = parse_args(argv)
    project_dir: Path = args.project_dir.resolve()
    try:
        if args.command == "up":
            return up(args, project_dir, environ)
        return down(args, project_dir, environ)
    except (
        StageError,
        AwsAccessError,
        ChaliceError,
        ConfigError,
        EmbeddedError,
        PortTakenError,
        StartError,
        DockerError,
        NotHealthyError,
        ClientError,
        BotoCoreError,
        requests.RequestException,
    ) as exc:
        print(f"deploy-local {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
