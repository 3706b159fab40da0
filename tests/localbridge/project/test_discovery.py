"""Discovery of a real Chalice project's scheduled functions and stage settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localbridge.model import FunctionSpec
from localbridge.project.config import ConfigError, parse_env_overrides
from localbridge.project.discovery import discover
from localbridge.project.loading import finish_load, load_functions
from localbridge.project.pending import PendingLoad
from tests.localbridge.chalice_project import CONFIG, write_project


def by_name(functions: list[FunctionSpec]) -> dict[str, FunctionSpec]:
    return {f.name: f for f in functions}


def test_finds_app_and_blueprint_functions_with_handlers_and_expressions(tmp_path: Path) -> None:
    functions = by_name(discover(write_project(tmp_path), "dev"))

    assert sorted(functions) == [
        "blocks",
        "calls_sys_exit",
        "chatty",
        "context_details",
        "decimals",
        "echo",
        "every_five_minutes",
        "exits",
        "fails",
        "gated_version",
        "kills_itself",
        "logs_info",
        "returns_bytes",
        "segfaults",
        "spawns_child",
        "unserialisable",
    ]
    assert functions["every_five_minutes"].handler == "app.every_five_minutes"
    assert functions["every_five_minutes"].expression == "rate(5 minutes)"
    assert functions["echo"].handler == "tasks.echo"
    assert functions["echo"].expression == "cron(5 0 * * ? *)"
    assert functions["fails"].expression == "rate(1 minute)"
    assert functions["echo"].lambda_name == "demo-dev-echo"


def test_merges_top_level_stage_and_function_settings(tmp_path: Path) -> None:
    functions = by_name(discover(write_project(tmp_path), "dev"))

    echo, fails = functions["echo"], functions["fails"]
    assert echo.environment == {
        "SHARED": "top",
        "OVERRIDDEN": "stage",
        "STAGE_ONLY": "dev",
        "PER_FUNCTION": "echo",
    }
    assert (echo.timeout_s, echo.memory_mb) == (7, 256)
    assert fails.environment == {"SHARED": "top", "OVERRIDDEN": "stage", "STAGE_ONLY": "dev"}
    assert (fails.timeout_s, fails.memory_mb) == (30, 256)


def test_chalice_defaults_apply_when_config_is_silent(tmp_path: Path) -> None:
    config = {"version": "2.0", "app_name": "bare", "stages": {"dev": {}}}
    functions = by_name(discover(write_project(tmp_path, config), "dev"))

    echo = functions["echo"]
    assert (echo.timeout_s, echo.memory_mb, dict(echo.environment)) == (60, 128, {})
    assert echo.lambda_name == "bare-dev-echo"


@pytest.mark.parametrize(
    ("setting", "value", "complaint"),
    [
        ("lambda_timeout", 0, "from 1 to 900"),
        ("lambda_timeout", 901, "from 1 to 900"),
        ("lambda_timeout", "60", "from 1 to 900"),
        ("lambda_memory_size", 64, "from 128 to 10240"),
    ],
)
def test_settings_lambda_would_reject_are_named(
    tmp_path: Path, setting: str, value: object, complaint: str
) -> None:
    config = json.loads(json.dumps(CONFIG))
    config["stages"]["dev"]["lambda_functions"]["echo"][setting] = value

    with pytest.raises(ConfigError, match=f"{setting} of function 'echo'.*{complaint}"):
        discover(write_project(tmp_path, config), "dev")


def test_env_overrides_win_for_every_function(tmp_path: Path) -> None:
    overrides = parse_env_overrides(["OVERRIDDEN=cli", "EXTRA=a=b"])
    functions = discover(write_project(tmp_path), "dev", overrides)

    assert {f.environment["OVERRIDDEN"] for f in functions} == {"cli"}
    assert {f.environment["EXTRA"] for f in functions} == {"a=b"}


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [("NOVALUE", "expected KEY=VALUE"), ("=x", "not a valid"), ("1ABC=x", "not a valid")],
)
def test_malformed_env_overrides_are_rejected(assignment: str, complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_env_overrides([assignment])


def test_empty_value_is_a_valid_override() -> None:
    assert parse_env_overrides(["EMPTY="]) == {"EMPTY": ""}


def test_missing_app_py_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no app\.py in .*--project"):
        discover(tmp_path, "dev")


def test_unknown_stage_lists_the_defined_stages(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"stage 'qa' is not defined .*dev, prod"):
        discover(write_project(tmp_path), "qa")


def test_invalid_config_json_names_the_position(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    (project / ".chalice" / "config.json").write_text('{"app_name": "demo",\n "stages": }')

    with pytest.raises(ConfigError, match=r"config\.json is not valid JSON: .* line 2"):
        discover(project, "dev")


def test_non_string_environment_value_is_named(tmp_path: Path) -> None:
    config = json.loads(json.dumps(CONFIG))
    config["stages"]["dev"]["environment_variables"]["PORT"] = 5000
    with pytest.raises(ConfigError, match=r"PORT .* is 5000: Lambda accepts strings only"):
        discover(write_project(tmp_path, config), "dev")


def test_app_that_fails_to_import_shows_its_traceback(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    tasks = project / "tasks.py"
    tasks.write_text(tasks.read_text() + "\nundefined_name\n")

    with pytest.raises(ConfigError) as raised:
        discover(project, "dev")
    message = str(raised.value)
    assert "app.py failed to import" in message
    assert "NameError: name 'undefined_name' is not defined" in message
    assert "tasks.py" in message


def test_prints_during_import_do_not_confuse_discovery(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    app = project / "app.py"
    app.write_text('print("hello from import")\n' + app.read_text())

    assert "echo" in by_name(discover(project, "dev"))


def test_app_py_without_an_app_says_what_chalice_needs(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    (project / "app.py").write_text("from chalice import Chalice\n")

    with pytest.raises(ConfigError, match=r"app\.py defines no `app`"):
        discover(project, "dev")


def test_app_that_exits_at_import_is_reported(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    (project / "app.py").write_text("import os\nos._exit(0)\n")

    with pytest.raises(ConfigError, match="ended the process before it could list"):
        discover(project, "dev")


def test_a_localbridge_package_in_the_project_does_not_shadow_the_running_one(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path)
    (project / "localbridge").mkdir()
    (project / "localbridge" / "__init__.py").write_text("raise ImportError('not this one')\n")

    assert "echo" in by_name(discover(project, "dev"))


def test_a_pending_load_gives_the_same_functions_as_a_load(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    overrides = {"EXTRA": "x"}
    with PendingLoad(project, "dev", overrides) as pending:
        functions = finish_load(pending)
    assert functions == load_functions(project, "dev", overrides)
    assert {"EXTRA": "x"}.items() <= by_name(functions)["every_five_minutes"].environment.items()


def test_a_pending_load_nobody_asks_ends_its_subprocess(tmp_path: Path) -> None:
    """``run`` failing before it asks (a busy port, a bad ledger) leaves no discovery behind."""
    project = write_project(tmp_path)
    # An app that never finishes importing: only close() can end its discovery.
    (project / "app.py").write_text("import threading\nthreading.Event().wait()\n")
    pending = PendingLoad(project, "dev", {})
    process = pending._process._process
    assert process is not None
    assert process.poll() is None
    pending.close()
    assert process.returncode is not None  # killed and reaped
    pending.close()  # twice is harmless


def test_a_pending_load_of_a_project_without_app_fails_before_starting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no app\.py in"):
        PendingLoad(tmp_path, "dev", {})
