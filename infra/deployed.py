"""What a stage really has deployed: its scheduled functions, read back from the events API.

Chalice records what it created in ``.chalice/deployed/<stage>.json``; the rule
names come from there, and everything printed about them (expression, state,
target) comes from EventBridge itself, so the report shows what will fire.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]

SCHEDULE_RESOURCE = "cloudwatch_event"
EVENT_SUFFIX = "-event"


@dataclass(frozen=True)
class DeployedSchedule:
    function: str
    rule_name: str
    expression: str
    state: str
    targets: tuple[str, ...]


def deployed_record(project_dir: Path, stage: str) -> dict[str, Any]:
    """Chalice's record of the stage (empty when nothing is deployed)."""
    path = project_dir / ".chalice" / "deployed" / f"{stage}.json"
    if not path.is_file():
        return {"resources": []}
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def rule_names(record: dict[str, Any]) -> dict[str, str]:
    """Function name -> rule name, for every schedule in chalice's record."""
    return {
        resource["name"].removesuffix(EVENT_SUFFIX): resource["rule_name"]
        for resource in record.get("resources", [])
        if resource.get("resource_type") == SCHEDULE_RESOURCE
    }


def read_schedules(session: boto3.Session, project_dir: Path, stage: str) -> list[DeployedSchedule]:
    events = session.client("events")
    schedules = []
    for function, rule_name in sorted(rule_names(deployed_record(project_dir, stage)).items()):
        rule = events.describe_rule(Name=rule_name)
        targets = events.list_targets_by_rule(Rule=rule_name)["Targets"]
        schedules.append(
            DeployedSchedule(
                function=function,
                rule_name=rule_name,
                expression=rule.get("ScheduleExpression", ""),
                state=rule.get("State", ""),
                targets=tuple(target["Arn"] for target in targets),
            )
        )
    return schedules


def format_schedules(schedules: list[DeployedSchedule]) -> list[str]:
    """A small aligned table, one line per scheduled function."""
    header = ("function", "rule", "expression", "state")
    rows = [header] + [(s.function, s.rule_name, s.expression, s.state) for s in schedules]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
