"""Reliability settings: defaults match AWS, bad input names the key."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from localbridge.model import CatchUp, FunctionSettings
from localbridge.project.config import ConfigError, read_stage_config
from localbridge.project.settings import ReliabilitySettings
from localbridge.project.settings import load_settings as settings_of

FUNCTIONS = {"hourly", "daily"}


def load_settings(project: Path, stage: str, names: set[str]) -> ReliabilitySettings:
    """The settings as a load reads them: through the one reader of config.json."""
    return settings_of(read_stage_config(project, stage), names)


def write_config(project: Path, section: Any) -> None:
    (project / ".chalice").mkdir(exist_ok=True)
    config = {"version": "2.0", "app_name": "t", "stages": {"local": {"localbridge": section}}}
    (project / ".chalice" / "config.json").write_text(json.dumps(config))


def test_defaults_are_aws_asynchronous_invocation_defaults(tmp_path: Path) -> None:
    write_config(tmp_path, None)
    settings = load_settings(tmp_path, "local", FUNCTIONS).for_function("hourly")
    assert settings == FunctionSettings()
    assert settings.maximum_retry_attempts == 2
    assert settings.retry_delays == (timedelta(seconds=60), timedelta(seconds=120))
    assert settings.maximum_event_age == timedelta(hours=6)
    assert settings.catch_up is CatchUp.ALL
    assert settings.max_concurrency is None


def test_function_overrides_build_on_the_stage_defaults(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "defaults": {"retry_delays": [0.5, 1], "maximum_event_age": 600},
            "functions": {"daily": {"catch_up": "latest", "max_concurrency": 1}},
        },
    )
    settings = load_settings(tmp_path, "local", FUNCTIONS)
    daily, hourly = settings.for_function("daily"), settings.for_function("hourly")
    assert daily.retry_delays == (timedelta(seconds=0.5), timedelta(seconds=1))
    assert daily.maximum_event_age == timedelta(minutes=10)
    assert (daily.catch_up, daily.max_concurrency) == (CatchUp.LATEST, 1)
    assert (hourly.catch_up, hourly.max_concurrency) == (CatchUp.ALL, None)


def test_the_last_retry_delay_repeats() -> None:
    settings = FunctionSettings(retry_delays=(timedelta(seconds=5),))
    assert settings.retry_delay(1) == settings.retry_delay(2) == timedelta(seconds=5)


def test_a_stage_without_a_localbridge_section_means_defaults(tmp_path: Path) -> None:
    (tmp_path / ".chalice").mkdir()
    config = {"version": "2.0", "app_name": "t", "stages": {"local": {}}}
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    assert load_settings(tmp_path, "local", FUNCTIONS).for_function("x") == FunctionSettings()


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"defaults": {"catch_up": "sometimes"}}, "stages.local.localbridge.defaults.catch_up"),
        ({"defaults": {"maximum_retry_attempts": -1}}, "defaults.maximum_retry_attempts"),
        ({"defaults": {"maximum_retry_attempts": 3}}, "defaults.maximum_retry_attempts"),
        ({"defaults": {"maximum_retry_attempts": True}}, "defaults.maximum_retry_attempts"),
        ({"functions": {"weekly": {}}}, "localbridge.functions.weekly"),
        ({"functions": {"daily": {"retries": 1}}}, "functions.daily.retries"),
        ({"defaults": {"retry_delays": []}}, "defaults.retry_delays"),
        ({"defaults": {"retry_delays": [1, -2]}}, "defaults.retry_delays[1]"),
        ({"defaults": {"maximum_event_age": 7 * 3600}}, "defaults.maximum_event_age"),
        ({"defaults": {"maximum_event_age": 59}}, "at least 60 seconds"),
        ({"defaults": {"maximum_event_age": 0.5}}, "defaults.maximum_event_age"),
        ({"defaults": {"max_concurrency": 0}}, "defaults.max_concurrency"),
        ({"default": {}}, "localbridge.default"),
        ([1, 2], "stages.local.localbridge"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, section: Any, named: str) -> None:
    write_config(tmp_path, section)
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path, "local", FUNCTIONS)
    assert named in str(raised.value)


def test_an_unknown_policy_lists_the_choices(tmp_path: Path) -> None:
    write_config(tmp_path, {"defaults": {"catch_up": "sometimes"}})
    with pytest.raises(ConfigError, match="'sometimes'; choose one of all, latest, none"):
        load_settings(tmp_path, "local", FUNCTIONS)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text("{")
    with pytest.raises(ConfigError, match=r"config\.json is not valid JSON"):
        load_settings(tmp_path, "local", FUNCTIONS)
