"""The app is imported with the stage's environment, as ``chalice local`` and Lambda do;
names Lambda reserves are refused with Lambda's wording."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from localbridge.project.config import ConfigError
from localbridge.project.loading import load_functions
from tests.support import ROOT

APP_PY = """\
import os

from chalice import Chalice, Rate

TABLE = os.environ["TABLE"]  # the usual Lambda idiom: read once, at import

app = Chalice(app_name="envapp")


@app.schedule(Rate(5, unit=Rate.MINUTES))
def reads_table(event):
    return TABLE
"""


def write_app(root: Path, stage: dict[str, Any]) -> Path:
    root.mkdir()
    (root / "app.py").write_text(APP_PY)
    (root / ".chalice").mkdir()
    config = {"version": "2.0", "app_name": "envapp", "stages": {"dev": stage}}
    (root / ".chalice" / "config.json").write_text(json.dumps(config))
    return root


def localbridge_list(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TABLE"}
    return subprocess.run(
        [sys.executable, "-m", "localbridge", "list", "--stage", "dev", "--project", str(project)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_list_imports_the_app_with_the_stage_environment(tmp_path: Path) -> None:
    project = write_app(tmp_path / "p", {"environment_variables": {"TABLE": "results"}})
    done = localbridge_list(project)
    assert done.returncode == 0, done.stderr
    assert "reads_table" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("in_process", [False, True], ids=["subprocess", "in-process"])
def test_discovery_sees_the_stage_environment_and_leaves_ours_alone(
    tmp_path: Path, in_process: bool
) -> None:
    project = write_app(tmp_path / "p", {"environment_variables": {"TABLE": "results"}})
    before = dict(os.environ)
    [spec] = load_functions(project, "dev", {}, in_process=in_process)
    assert spec.environment["TABLE"] == "results"
    assert dict(os.environ) == before


def test_env_override_reaches_the_import_too(tmp_path: Path) -> None:
    project = write_app(tmp_path / "p", {})
    [spec] = load_functions(project, "dev", {"TABLE": "given"})
    assert spec.environment["TABLE"] == "given"


RESERVED_MESSAGE = (
    "Lambda was unable to configure your environment variables because the environment "
    "variables you have provided contains reserved keys that are currently not supported "
    "for modification. Reserved keys used in this request: AWS_REGION, _HANDLER"
)


def test_reserved_names_are_refused_with_lambdas_wording(tmp_path: Path) -> None:
    variables = {"TABLE": "t", "AWS_REGION": "eu-west-1", "_HANDLER": "x.y", "TZ": ":UTC"}
    project = write_app(tmp_path / "p", {"environment_variables": variables})
    with pytest.raises(ConfigError) as raised:
        load_functions(project, "dev", {})
    assert RESERVED_MESSAGE in str(raised.value)
    done = localbridge_list(project)
    assert done.returncode == 2
    assert RESERVED_MESSAGE in done.stderr
    assert "Traceback" not in done.stderr
