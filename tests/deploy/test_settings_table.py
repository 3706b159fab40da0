"""docs/settings.md's table holds: every setting is honoured where the table says.

The table is parsed; each "yes" is checked by setting the value (one no
default has) and reading it back where it applies: localbridge's load of the
project, the emulated AWS's reading of what Lambda holds for the function,
and what a deploy to AWS applies (Chalice's own merge for its keys, the
event invoke config ``make deploy`` puts for the others). A setting the
table lists without a check here fails.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from chalice.config import Config

from infra.emulated_aws.moto_state import LambdaRecord, RuleRecord, deployed_functions
from infra.invoke_config import wanted_configs
from localbridge.model import FunctionSpec
from localbridge.project.config import read_stage_config
from localbridge.project.loading import load_functions
from localbridge.project.settings import load_retention
from tests.localbridge.chalice_project import CONFIG, write_project
from tests.support import ROOT

TABLE = ROOT / "docs" / "settings.md"
PLACES = ("localbridge", "emulated AWS", "AWS")
FUNCTION = "echo"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:demo-dev-echo"


def table_rows() -> dict[str, dict[str, bool]]:
    """setting -> {place: applies?}, from the table's rows."""
    lines = [line for line in TABLE.read_text().splitlines() if line.startswith("| `")]
    rows = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == 2 + len(PLACES), line
        assert all(cell in ("yes", "no") for cell in cells[2:]), line
        rows[cells[0].strip("`")] = dict(zip(PLACES, [c == "yes" for c in cells[2:]], strict=True))
    return rows


# The value each setting is given, where it is written, and how it reads back in a spec.
Setting = tuple[Any, Callable[[dict[str, Any], Any], None], Callable[[FunctionSpec], Any]]


def in_function(key: str) -> Callable[[dict[str, Any], Any], None]:
    def write(config: dict[str, Any], value: Any) -> None:
        config["stages"]["dev"]["lambda_functions"][FUNCTION][key] = value

    return write


def in_localbridge(key: str) -> Callable[[dict[str, Any], Any], None]:
    def write(config: dict[str, Any], value: Any) -> None:
        config["stages"]["dev"]["localbridge"] = {"functions": {FUNCTION: {key: value}}}

    return write


def in_stage_localbridge(key: str) -> Callable[[dict[str, Any], Any], None]:
    def write(config: dict[str, Any], value: Any) -> None:
        config["stages"]["dev"]["localbridge"] = {key: value}

    return write


def no_function_reads(spec: FunctionSpec) -> Any:
    raise AssertionError("a stage-wide setting is read from the stage, not from a function")


SETTINGS: dict[str, Setting] = {
    "environment_variables": (
        {"TABLE": "results"},
        in_function("environment_variables"),
        lambda spec: {"TABLE": spec.environment.get("TABLE")},
    ),
    "lambda_timeout": (17, in_function("lambda_timeout"), lambda spec: spec.timeout_s),
    "lambda_memory_size": (512, in_function("lambda_memory_size"), lambda spec: spec.memory_mb),
    "reserved_concurrency": (
        0,
        in_function("reserved_concurrency"),
        lambda spec: spec.settings.max_concurrency,
    ),
    "maximum_retry_attempts": (
        1,
        in_localbridge("maximum_retry_attempts"),
        lambda spec: spec.settings.maximum_retry_attempts,
    ),
    "maximum_event_age": (
        120,
        in_localbridge("maximum_event_age"),
        lambda spec: int(spec.settings.maximum_event_age.total_seconds()),
    ),
    "retry_delays": (
        [5],
        in_localbridge("retry_delays"),
        lambda spec: [d.total_seconds() for d in spec.settings.retry_delays],
    ),
    "catch_up": ("latest", in_localbridge("catch_up"), lambda spec: spec.settings.catch_up.value),
    "max_concurrency": (
        3,
        in_localbridge("max_concurrency"),
        lambda spec: spec.settings.max_concurrency,
    ),
    "retention_days": (3, in_stage_localbridge("retention_days"), no_function_reads),
}


# Settings of the whole stage rather than of a function: read as the command reads them.
def retention_days(project: Path) -> int | None:
    keep = load_retention(read_stage_config(project, "dev"))
    return None if keep is None else keep.days


STAGE_READERS: dict[str, Callable[[Path], Any]] = {"retention_days": retention_days}


def project_with(tmp_path: Path, name: str) -> Path:
    config = copy.deepcopy(CONFIG)
    value, write, _ = SETTINGS[name]
    write(config, value)
    return write_project(tmp_path / "project", config)


def honoured_by_localbridge(tmp_path: Path, name: str) -> Any:
    project = project_with(tmp_path, name)
    if name in STAGE_READERS:
        return STAGE_READERS[name](project)
    [spec] = [s for s in load_functions(project, "dev", {}) if s.name == FUNCTION]
    return SETTINGS[name][2](spec)


def lambda_holds(record: LambdaRecord, name: str, value: Any) -> LambdaRecord:
    """The function as Lambda holds it once the deploy applied ``name``."""
    fields = {
        "environment_variables": {"environment": value},
        "lambda_timeout": {"timeout_s": value},
        "lambda_memory_size": {"memory_mb": value},
        "reserved_concurrency": {"reserved_concurrency": value},
        "maximum_retry_attempts": {"retry_attempts": value},
        "maximum_event_age": {"event_age_s": value},
    }[name]
    return replace(record, **fields)


def honoured_by_emulated_aws(tmp_path: Path, name: str) -> Any:
    deployed = honoured_by_aws(tmp_path, name)  # what the deploy puts in Lambda
    record = LambdaRecord(
        name="demo-dev-echo",
        arn=ARN,
        handler="tasks.echo",
        environment={},
        timeout_s=60,
        memory_mb=128,
        code_sha256="AAAA",
        tags={"aws-chalice": "version=1.32.0:stage=dev:app=demo"},
    )
    rule = RuleRecord("demo-dev-echo-event", "rate(1 minute)", "ENABLED", (ARN,))
    [function] = deployed_functions([lambda_holds(record, name, deployed)], [rule])
    return SETTINGS[name][2](function.spec)


def honoured_by_aws(tmp_path: Path, name: str) -> Any:
    project = project_with(tmp_path, name)
    if name in ("maximum_retry_attempts", "maximum_event_age"):
        [config] = [c for c in wanted_configs(project, "dev", [FUNCTION]) if c.function == FUNCTION]
        return config.retry_attempts if name == "maximum_retry_attempts" else config.event_age_s
    document = json.loads((project / ".chalice" / "config.json").read_text())
    chalice = Config(chalice_stage="dev", function_name=FUNCTION, config_from_disk=document)
    value = getattr(chalice, name)
    return {"TABLE": value.get("TABLE")} if name == "environment_variables" else value


CHECKS = {
    "localbridge": honoured_by_localbridge,
    "emulated AWS": honoured_by_emulated_aws,
    "AWS": honoured_by_aws,
}
CLAIMS = [
    (name, place) for name, places in table_rows().items() for place, yes in places.items() if yes
]


def test_every_listed_setting_has_a_check() -> None:
    assert set(table_rows()) <= set(SETTINGS)
    assert table_rows(), "docs/settings.md lists no setting"


@pytest.mark.parametrize(("name", "place"), CLAIMS, ids=[f"{n}@{p}" for n, p in CLAIMS])
def test_setting_is_honoured_where_the_table_says(name: str, place: str, tmp_path: Path) -> None:
    expected = SETTINGS[name][0]
    assert CHECKS[place](tmp_path, name) == expected
