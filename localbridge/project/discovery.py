"""Find a Chalice app's scheduled functions and the settings a stage deploys them with.

The app itself is imported in a short-lived subprocess
(``localbridge.project.discover_main``, run by ``discovery_process``):
the scheduler never imports user code, so a broken edit cannot take it down
and a re-discovery always sees fresh code.
One-shot commands (``list``) import it in their own interpreter instead
(``in_process``): they have nothing to protect, and a second interpreter
would double their start-up time.
Stage settings are merged here with Chalice's own ``Config``, so the merge
order is exactly the one ``chalice deploy`` uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalice.config import Config

from localbridge.model import FunctionSettings, FunctionSpec
from localbridge.project.config import (
    ConfigError,
    StageConfig,
    read_stage_config,
    require_app,
)
from localbridge.project.discover_main import AppImportError, discover_here
from localbridge.project.discovery_process import DiscoveryProcess
from localbridge.project.environment import reserved_problem, stage_environment

# (Chalice's default when config.json says nothing, Lambda's lowest, highest).
TIMEOUT_LIMITS = (60, 1, 900)
MEMORY_LIMITS = (128, 128, 10240)


def discover(
    project_dir: Path,
    stage: str,
    env_overrides: Mapping[str, str] | None = None,
    config: StageConfig | None = None,
    in_process: bool = False,
) -> list[FunctionSpec]:
    """Every scheduled function of the app in ``project_dir``, as ``stage`` deploys it.

    ``config`` is the stage's configuration when the caller has read it
    already (``loading.load_functions`` does, so a load reads it once).
    ``in_process`` imports the app in this interpreter: for one-shot
    commands, which a broken app cannot harm and which a second interpreter
    would only slow down.
    """
    project_dir = require_app(project_dir)
    if config is None:
        config = read_stage_config(project_dir, stage)
    # The app is imported with the stage's variables set, as `chalice local` does.
    environment = {**stage_environment(config), **(env_overrides or {})}
    if in_process:
        found = import_here(project_dir, environment)
    else:
        found = import_scheduled_functions(project_dir, environment)
    return function_specs(found, config, env_overrides or {})


def function_specs(
    found: Mapping[str, Any], config: StageConfig, env_overrides: Mapping[str, str]
) -> list[FunctionSpec]:
    """The discovered functions (``found``: discover_main's answer) as ``config`` deploys them."""
    app_name = config.app_name or found["app_name"]
    return [
        function_spec(entry, str(app_name), config, env_overrides) for entry in found["functions"]
    ]


def import_here(project_dir: Path, environment: Mapping[str, str]) -> dict[str, Any]:
    """``import_scheduled_functions``'s answer, importing the app in this interpreter."""
    try:
        return discover_here(str(project_dir), environment)
    except AppImportError as error:
        raise ConfigError(
            f"{project_dir / 'app.py'} failed to import; fix the error below:\n"
            f"{str(error).rstrip()}"
        ) from None


def import_scheduled_functions(
    project_dir: Path, environment: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run ``discover_main`` on the project, ``environment`` set, and return its JSON answer."""
    with DiscoveryProcess(project_dir, environment) as discovery:
        return discovery.answer()


def function_spec(
    entry: Mapping[str, str],
    app_name: str,
    config: StageConfig,
    env_overrides: Mapping[str, str],
) -> FunctionSpec:
    """One function with its merged settings: top level, then stage, then per function."""
    name, stage = entry["name"], config.stage
    settings = Config(chalice_stage=stage, function_name=name, config_from_disk=config.document)
    where = f"function {name!r}, stage {stage!r} in .chalice/config.json"
    environment = {**check_environment(settings.environment_variables, where), **env_overrides}
    return FunctionSpec(
        name=name,
        handler=entry["handler"],
        expression=entry["expression"],
        app_name=app_name,
        stage=stage,
        environment=environment,
        timeout_s=lambda_limit(settings.lambda_timeout, TIMEOUT_LIMITS, "lambda_timeout", where),
        memory_mb=lambda_limit(
            settings.lambda_memory_size, MEMORY_LIMITS, "lambda_memory_size", where
        ),
        settings=FunctionSettings(
            max_concurrency=reserved_concurrency(settings.reserved_concurrency, where)
        ),
    )


def reserved_concurrency(value: Any, where: str) -> int | None:
    """Chalice's ``reserved_concurrency``: Lambda's reserved concurrent executions (0 throttles)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"reserved_concurrency of {where} is {value!r}: Lambda accepts a whole number "
            "from 0 (every invocation throttled)"
        )
    return value


def check_environment(variables: Mapping[str, Any], where: str) -> dict[str, str]:
    """Lambda takes string values only, and no name it reserves; say which one is not."""
    reserved = reserved_problem(variables)
    if reserved is not None:
        raise ConfigError(f"environment_variables of {where}: {reserved}")
    for key, value in variables.items():
        if not isinstance(value, str):
            raise ConfigError(
                f"environment variable {key} of {where} is {json.dumps(value)}: "
                "Lambda accepts strings only, quote it"
            )
    return dict(variables)


def lambda_limit(value: Any, limits: tuple[int, int, int], setting: str, where: str) -> int:
    """The setting, or Chalice's default when absent, within what Lambda accepts."""
    default, lowest, highest = limits
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise ConfigError(
            f"{setting} of {where} is {value!r}: Lambda accepts a whole number "
            f"from {lowest} to {highest}"
        )
    return value
