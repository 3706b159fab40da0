"""Lambda's asynchronous invocation settings of a stage, deployed with its functions.

``maximum_retry_attempts`` and ``maximum_event_age`` are read where localbridge
reads them (``stages.<stage>.localbridge`` in ``.chalice/config.json``, per
function or as the stage's defaults) and set on each scheduled function with
``PutFunctionEventInvokeConfig`` after ``chalice deploy``, which has no setting
for them; then read back with ``GetFunctionEventInvokeConfig`` and printed, so
what the report shows is what Lambda will do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]

from infra.deployed import deployed_record, rule_names
from localbridge.project.config import read_stage_config
from localbridge.project.settings import load_settings


@dataclass(frozen=True)
class InvokeConfig:
    function: str
    retry_attempts: int
    event_age_s: int


def wanted_configs(project_dir: Path, stage: str, functions: list[str]) -> list[InvokeConfig]:
    """Each scheduled function's settings as the stage's config gives them."""
    settings = load_settings(read_stage_config(project_dir, stage), functions)
    configs = []
    for name in sorted(functions):
        chosen = settings.for_function(name)
        age = int(chosen.maximum_event_age.total_seconds())
        configs.append(InvokeConfig(name, chosen.maximum_retry_attempts, age))
    return configs


def lambda_arns(record: Mapping[str, Any]) -> dict[str, str]:
    """Function name -> its ARN, from chalice's record."""
    return {
        resource["name"]: resource["lambda_arn"]
        for resource in record.get("resources", [])
        if resource.get("resource_type") == "lambda_function"
    }


def deploy_invoke_configs(
    session: boto3.Session,
    project_dir: Path,
    stage: str,
    wanted: list[InvokeConfig],
    echo: Callable[[str], None],
) -> list[InvokeConfig]:
    """Put each scheduled function's event invoke config, read it back, print it.

    ``wanted`` comes from ``wanted_configs``, read before deploying so a bad
    setting stops the deploy before anything changes.
    """
    record = deployed_record(project_dir, stage)
    arns = lambda_arns(record)
    scheduled = set(rule_names(record))
    client = session.client("lambda")
    read_back = []
    for config in [c for c in wanted if c.function in scheduled]:
        arn = arns[config.function]
        client.put_function_event_invoke_config(
            FunctionName=arn,
            MaximumRetryAttempts=config.retry_attempts,
            MaximumEventAgeInSeconds=config.event_age_s,
        )
        answer = client.get_function_event_invoke_config(FunctionName=arn)
        read_back.append(
            InvokeConfig(
                config.function,
                int(answer["MaximumRetryAttempts"]),
                int(answer["MaximumEventAgeInSeconds"]),
            )
        )
    echo(f"Asynchronous invocation of stage {stage!r}, as Lambda reports it:")
    for line in format_configs(read_back):
        echo(line)
    return read_back


def format_configs(configs: list[InvokeConfig]) -> list[str]:
    header = ("function", "retry attempts", "maximum event age (s)")
    rows = [header] + [(c.function, str(c.retry_attempts), str(c.event_age_s)) for c in configs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
