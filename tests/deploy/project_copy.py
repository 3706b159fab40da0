"""A throw-away copy of the project, so deploy tests leave no ``.chalice/deployed`` state."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.support import ROOT

# What a deploy needs is the app, its config, infra/ and the Makefile; the rest
# (tests, caches, the environment, data) is left out or linked.
LEFT_OUT = shutil.ignore_patterns(
    ".git",
    ".venv",
    "tests",
    "bench",
    "data",
    "deployed",
    "deployments",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)


def copy_project(destination: Path) -> Path:
    """Copy the repository to ``destination``; its .venv links to the shared one."""
    shutil.copytree(ROOT, destination, symlinks=True, ignore=LEFT_OUT)
    (destination / ".venv").symlink_to((ROOT / ".venv").resolve())
    return destination


def stage_config(project_dir: Path, stage: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((project_dir / ".chalice" / "config.json").read_text())
    stage_settings: dict[str, Any] = config["stages"][stage]
    return stage_settings


def edit_stage(project_dir: Path, stage: str, **settings: Any) -> None:
    path = project_dir / ".chalice" / "config.json"
    config = json.loads(path.read_text())
    config["stages"][stage].update(settings)
    path.write_text(json.dumps(config, indent=2))
