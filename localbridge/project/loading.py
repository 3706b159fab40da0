"""Load a Chalice project's scheduled functions and settings, validated: the one path.

``load_functions`` reads ``.chalice/config.json`` once (``config``), has the
app's functions discovered with it (``discovery``), checks every schedule
expression and attaches each function's reliability settings (``settings``).
Everything that can be wrong with a project (an expression EventBridge would
reject, a bad ``localbridge`` setting) is found here, at startup, and reported
as a ``ConfigError`` naming the function, expression or key: exit code 2.

``pending.PendingLoad`` is the same load in two steps, for ``run``: the
discovery subprocess starts when it is made and ``finish_load`` collects
its answer later, the caller doing its own work (imports, the ledger, the
services' ports) while the app is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from localbridge.model import FunctionSettings, FunctionSpec
from localbridge.project.config import ConfigError, StageConfig, read_stage_config, require_app
from localbridge.project.discovery import discover, function_specs
from localbridge.project.pending import PendingLoad
from localbridge.project.settings import load_settings
from localbridge.schedules import ScheduleError, parse_schedule

__all__ = ["ConfigError", "PendingLoad", "finish_load", "load_functions"]


def load_functions(
    project_dir: Path, stage: str, env_overrides: Mapping[str, str], in_process: bool = False
) -> list[FunctionSpec]:
    """Every scheduled function, as ``stage`` deploys it, with its reliability settings.

    ``in_process``: see ``discovery.discover``.
    """
    if not in_process:
        with PendingLoad(project_dir, stage, env_overrides) as pending:
            return finish_load(pending)
    config = read_stage_config(require_app(project_dir), stage)
    specs = discover(project_dir, stage, dict(env_overrides), config, in_process)
    return validated(specs, config)


def finish_load(pending: PendingLoad) -> list[FunctionSpec]:
    """The functions of a load begun with ``PendingLoad``: its discovery's answer, validated."""
    answer = pending.answer()
    specs = function_specs(answer, pending.config, pending.env_overrides)
    return validated(specs, pending.config)


def validated(specs: list[FunctionSpec], config: StageConfig) -> list[FunctionSpec]:
    """``specs`` once every expression parses, with their reliability settings attached."""
    for spec in specs:
        try:
            parse_schedule(spec.expression)
        except ScheduleError as error:
            raise ConfigError(
                f"function {spec.name}: invalid schedule expression {spec.expression!r}: {error}"
            ) from None
    settings = load_settings(config, [spec.name for spec in specs])
    return [
        replace(spec, settings=with_reserved(spec, settings.for_function(spec.name)))
        for spec in specs
    ]


def with_reserved(spec: FunctionSpec, chosen: FunctionSettings) -> FunctionSettings:
    """The stage's settings, limited by Chalice's ``reserved_concurrency`` (discovery put it in
    ``spec.settings.max_concurrency``): the smaller of it and localbridge's ``max_concurrency``."""
    reserved = spec.settings.max_concurrency
    if reserved is None:
        return chosen
    limit = reserved if chosen.max_concurrency is None else min(reserved, chosen.max_concurrency)
    return replace(chosen, max_concurrency=limit)
