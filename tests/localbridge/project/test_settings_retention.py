"""Retention: a number of days in the stage's localbridge section, 7 by default, null keeps all."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from localbridge.project.config import ConfigError, read_stage_config
from localbridge.project.settings import DEFAULT_RETENTION, load_retention, load_settings

ABSENT = object()


def retention_in(project: Path, section: Any) -> timedelta | None:
    (project / ".chalice").mkdir(exist_ok=True)
    stage = {} if section is ABSENT else {"localbridge": section}
    config = {"version": "2.0", "app_name": "t", "stages": {"local": stage}}
    (project / ".chalice" / "config.json").write_text(json.dumps(config))
    config_read = read_stage_config(project, "local")
    load_settings(config_read, {"daily"})  # checks the section, retention_days with the rest
    return load_retention(config_read)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (ABSENT, timedelta(days=7)),
        ({"defaults": {}}, timedelta(days=7)),
        ({"retention_days": 30}, timedelta(days=30)),
        ({"retention_days": 0.5}, timedelta(hours=12)),
        ({"retention_days": None}, None),
    ],
)
def test_retention_is_a_number_of_days_seven_by_default(
    tmp_path: Path, section: Any, expected: timedelta | None
) -> None:
    assert retention_in(tmp_path, section) == expected
    assert timedelta(days=7) == DEFAULT_RETENTION


@pytest.mark.parametrize("bad", [0, -1, "7", True, 1e9, float("nan")])
def test_a_bad_retention_names_the_key_and_the_choices(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"stages\.local\.localbridge\.retention_days: .*days"):
        retention_in(tmp_path, {"retention_days": bad})
