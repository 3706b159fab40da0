"""Load a Chalice project's scheduled functions and settings, validated.

Everything that can be wrong with a project (an expression EventBridge would
reject, a bad ``localbridge`` setting) is found here, at startup, and reported
as a ``ConfigError`` naming the function, expression or key: exit code 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from localbridge import ScheduleError, parse_schedule
from localbridge.project.discovery import DiscoveryError, discover
from localbridge.project.settings import SettingsError, load_settings
from localbridge.runtime.loop import ConfiguredFunction


class ConfigError(Exception):
    """The project cannot be run as configured; the message says what to fix."""


def load_functions(
    project_dir: Path, stage: str, env_overrides: Mapping[str, str]
) -> list[ConfiguredFunction]:
    try:
        specs = discover(project_dir, stage, dict(env_overrides))
    except DiscoveryError as error:
        raise ConfigError(str(error)) from None
    for spec in specs:
        try:
            parse_schedule(spec.expression)
        except ScheduleError as error:
            raise ConfigError(
                f"function {spec.name}: invalid schedule expression {spec.expression!r}: {error}"
            ) from None
    try:
        settings = load_settings(project_dir, stage, [spec.name for spec in specs])
    except SettingsError as error:
        raise ConfigError(str(error)) from None
    return [ConfiguredFunction(spec, settings.for_function(spec.name)) for spec in specs]
