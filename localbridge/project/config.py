"""``.chalice/config.json`` for one stage: read once per load, then passed on.

Discovery (Chalice's own settings: app name, environment, timeout, memory) and
the reliability settings (the stage's ``localbridge`` section) both read from
the ``StageConfig`` this module returns, so a ``run`` opens the file once and
every problem with it is one ``ConfigError`` naming the file and what to fix.
``ConfigError`` is the project package's one error type: whatever stops a
project from running as configured (exit code 2 in the CLI).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What Lambda accepts as an environment variable name.
ENV_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class ConfigError(ValueError):
    """The project cannot be run as configured; the message says what to fix."""


@dataclass(frozen=True)
class StageConfig:
    """The whole ``config.json`` (Chalice's ``Config`` wants it all) and the stage chosen."""

    path: Path
    stage: str
    document: dict[str, Any]

    @property
    def app_name(self) -> str | None:
        name = self.document.get("app_name")
        return None if name is None else str(name)

    @property
    def section(self) -> dict[str, Any]:
        """``stages.<stage>``: checked to be an object when read."""
        section: dict[str, Any] = self.document["stages"][self.stage]
        return section


def read_stage_config(project_dir: Path, stage: str) -> StageConfig:
    """``.chalice/config.json``, checked to be an object that defines ``stage``."""
    path = project_dir / ".chalice" / "config.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(
            f"{path} not found: a Chalice project needs it (create it with `chalice new-project`)"
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path} must hold a JSON object, not {type(document).__name__}")
    stages = document.get("stages")
    if not isinstance(stages, dict) or stage not in stages:
        known = ", ".join(sorted(stages)) if isinstance(stages, dict) and stages else "none"
        raise ConfigError(
            f"stage {stage!r} is not defined in {path} (stages defined: {known}); "
            'pick one with --stage or add it under "stages"'
        )
    if not isinstance(stages[stage], dict):
        raise ConfigError(f"stages.{stage} in {path}: expected an object, got {stages[stage]!r}")
    return StageConfig(path, stage, document)


def require_app(project_dir: Path) -> Path:
    """``project_dir``, resolved, once it is known to hold an ``app.py``."""
    project_dir = project_dir.resolve()
    if not (project_dir / "app.py").is_file():
        raise ConfigError(
            f"no app.py in {project_dir}: run from the Chalice project's directory "
            "or point --project at it"
        )
    return project_dir


def parse_env_overrides(assignments: Iterable[str]) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` (from repeated ``--env``) as a dict; later ones win."""
    parsed: dict[str, str] = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise ConfigError(f"--env {assignment!r}: expected KEY=VALUE")
        if not ENV_NAME.fullmatch(key):
            raise ConfigError(
                f"--env {assignment!r}: {key!r} is not a valid variable name "
                "(a letter, then letters, digits or underscores)"
            )
        parsed[key] = value
    return parsed
