"""``python -m infra.deploy deploy|destroy --stage S``: chalice deploy/delete, checked first.

Whatever AWS environment is set is used unchanged (``AWS_ENDPOINT_URL`` points
it at an emulator); only ``AWS_DEFAULT_REGION`` is defaulted. Reachability and
credentials are checked before chalice runs, a stage whose settings still hold
a placeholder gets a warning, chalice's failures are summarised in one line,
and after a deploy each scheduled function gets its asynchronous invocation
settings (``infra.invoke_config``) and is printed with its rule as
EventBridge reports it. Environment names Lambda reserves are refused before
chalice runs, in Lambda's words. ``destroy`` runs ``chalice delete`` and then removes
whatever the stage's deploys created that chalice's record missed (a failed
deploy records nothing), saying what it removed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.aws_access import AwsAccessError, check_access, endpoint_label, region_of, session_for
from infra.chalice_cli import ChaliceError, run_chalice
from infra.deployed import deployed_record, format_schedules, read_schedules, rule_names
from infra.invoke_config import deploy_invoke_configs, wanted_configs
from infra.leftovers import remove_stage
from localbridge.project.config import ConfigError
from localbridge.project.discovery import discover
from localbridge.project.environment import reserved_problem

PROJECT_DIR = Path(__file__).resolve().parents[1]
PLACEHOLDER = "example.invalid"


class StageError(Exception):
    """The stage is not one the project defines."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__)
    parser.add_argument("command", choices=["deploy", "destroy"])
    parser.add_argument("--stage", required=True, help="a stage of .chalice/config.json")
    parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="the Chalice project (default: repo)"
    )
    return parser.parse_args(argv)


def read_config(project_dir: Path) -> dict[str, Any]:
    config_path = project_dir / ".chalice" / "config.json"
    try:
        config: dict[str, Any] = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise StageError(f"cannot read {config_path}: {exc}") from None
    return config


def check_stage(project_dir: Path, stage: str) -> None:
    stages = read_config(project_dir).get("stages", {})
    if stage not in stages:
        known = ", ".join(sorted(stages)) or "none"
        config_path = project_dir / ".chalice" / "config.json"
        raise StageError(f"stage {stage!r} is not in {config_path} (stages: {known})")


def check_reserved_names(project_dir: Path, stage: str) -> None:
    """Lambda's refusal of reserved environment names, before chalice tries."""
    config = read_config(project_dir)
    settings = config["stages"][stage]
    sections = [config, settings, *(settings.get("lambda_functions") or {}).values()]
    names: list[str] = []
    for section in sections:
        variables = section.get("environment_variables") if isinstance(section, dict) else None
        names += [name for name in variables or {} if name not in names]
    problem = reserved_problem(names)
    if problem is not None:
        raise StageError(f"stage {stage!r} in .chalice/config.json: {problem}")


def placeholder_warnings(project_dir: Path, stage: str) -> list[str]:
    """One warning per environment variable of the stage that names a placeholder host."""
    settings = read_config(project_dir)["stages"][stage]
    variables = settings.get("environment_variables", {})
    return [
        f"warning: stage {stage!r} sets {key}={value}, a placeholder: the deployed functions "
        f"will fail until it names a real host (.chalice/config.json, stages.{stage})"
        for key, value in sorted(variables.items())
        if PLACEHOLDER in str(value)
    ]


def chalice_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment with the region chalice needs defaulted."""
    env = dict(environ)
    env["AWS_DEFAULT_REGION"] = region_of(environ)
    return env


def echo(line: str) -> None:
    print(line, flush=True)


def deploy(project_dir: Path, stage: str, environ: Mapping[str, str], session: Any = None) -> None:
    """``session``: the boto3 session (or one shaped like it) for the checks and read-backs;
    by default one as chalice will see ``environ``."""
    check_reserved_names(project_dir, stage)
    functions = sorted(spec.name for spec in discover(project_dir, stage, {}))
    invoke_configs = wanted_configs(project_dir, stage, functions)
    for warning in placeholder_warnings(project_dir, stage):
        print(warning, file=sys.stderr, flush=True)
    session = session or session_for(environ)
    check_access(session, environ)
    echo(f"Deploying stage {stage!r} to {endpoint_label(environ)}")
    run_chalice(project_dir, ["deploy", "--stage", stage], chalice_environment(environ), echo)
    deploy_invoke_configs(session, project_dir, stage, invoke_configs, echo)
    schedules = read_schedules(session, project_dir, stage)
    echo(f"Scheduled functions of stage {stage!r}, as EventBridge reports them:")
    for line in format_schedules(schedules):
        echo(line)


def destroy(project_dir: Path, stage: str, environ: Mapping[str, str], session: Any = None) -> None:
    session = session or session_for(environ)
    check_access(session, environ)
    scheduled = rule_names(deployed_record(project_dir, stage))
    echo(f"Deleting stage {stage!r} from {endpoint_label(environ)}")
    run_chalice(project_dir, ["delete", "--stage", stage], chalice_environment(environ), echo)
    names = ", ".join(sorted(scheduled)) or "none"
    echo(f"Deleted {len(scheduled)} scheduled function(s) with their rules: {names}")
    app = read_config(project_dir)["app_name"]
    removed = remove_stage(session, app, stage, app_function_names(project_dir, stage))
    if removed:
        echo(f"Removed what earlier deploys of {stage!r} left outside chalice's record:")
        for line in removed.lines():
            echo(line)
    else:
        echo(f"Nothing else of stage {stage!r} ({app}-{stage}-*) is deployed.")


def app_function_names(project_dir: Path, stage: str) -> set[str]:
    """The app's scheduled functions (for the names of what a failed deploy created)."""
    try:
        return {spec.name for spec in discover(project_dir, stage, {})}
    except ConfigError as exc:
        echo(f"note: cannot read the app's functions ({exc}); looking by tags only")
        return set()


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    args = parse_args(argv)
    project_dir: Path = args.project_dir.resolve()
    try:
        check_stage(project_dir, args.stage)
        if args.command == "deploy":
            deploy(project_dir, args.stage, environ)
        else:
            destroy(project_dir, args.stage, environ)
    except (StageError, AwsAccessError, ChaliceError, ConfigError) as exc:
        print(f"{args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
