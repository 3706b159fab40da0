"""Find and remove what a stage's deploy created, whatever chalice recorded.

A ``chalice deploy`` that fails half-way writes ``.chalice/deployed/<stage>.json``
without the resources it did create, so ``chalice delete`` leaves them behind.
Chalice's names are fixed, though: functions ``<app>-<stage>-<function>``
(tagged ``aws-chalice: version=..:stage=<stage>:app=<app>``), their rules
``<app>-<stage>-<function>-event``, and the role ``<app>-<stage>`` (or one per
function, ``<app>-<stage>-<function>``, with a policy file). This module looks
for exactly those and removes them, rules before functions before roles.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]

CHALICE_TAG = "aws-chalice"


@dataclass
class Removed:
    rules: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        found = [
            ("rule", self.rules),
            ("function", self.functions),
            ("IAM role", self.roles),
        ]
        return [f"  removed {kind} {name}" for kind, names in found for name in names]

    def __bool__(self) -> bool:
        return bool(self.rules or self.functions or self.roles)


def tag_says(tags: dict[str, str], app: str, stage: str) -> bool:
    fields = dict(part.partition("=")[::2] for part in tags.get(CHALICE_TAG, "").split(":"))
    return fields.get("app") == app and fields.get("stage") == stage


def stage_functions(lambda_client: Any, app: str, stage: str, known: Collection[str]) -> list[str]:
    """Names of the functions this stage's deploys created (by tag, or by known name)."""
    prefix = f"{app}-{stage}-"
    names = []
    for page in lambda_client.get_paginator("list_functions").paginate():
        for function in page["Functions"]:
            name: str = function["FunctionName"]
            if not name.startswith(prefix):
                continue
            tags = lambda_client.get_function(FunctionName=name).get("Tags", {})
            if tag_says(tags, app, stage) or name.removeprefix(prefix) in known:
                names.append(name)
    return names


def remove_rules(events: Any, functions: Collection[str], removed: Removed) -> None:
    """Rules named ``<function>-event`` for the given functions."""
    for function in functions:
        rule = f"{function}-event"
        try:
            targets = events.list_targets_by_rule(Rule=rule)["Targets"]
        except events.exceptions.ResourceNotFoundException:
            continue
        if targets:
            events.remove_targets(Rule=rule, Ids=[target["Id"] for target in targets])
        events.delete_rule(Name=rule)
        removed.rules.append(rule)


def remove_roles(iam: Any, app: str, stage: str, functions: Collection[str]) -> list[str]:
    wanted = {f"{app}-{stage}", *functions}
    removed = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            name = role["RoleName"]
            if name not in wanted:
                continue
            for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
            attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            for policy in attached:
                iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            iam.delete_role(RoleName=name)
            removed.append(name)
    return removed


def remove_stage(session: boto3.Session, app: str, stage: str, known: Collection[str]) -> Removed:
    """Remove every function, rule and role of ``stage``; ``known`` are the app's function names."""
    lambda_client = session.client("lambda")
    removed = Removed()
    functions = stage_functions(lambda_client, app, stage, known)
    prefix = f"{app}-{stage}-"
    # Rules of functions already gone too: a deploy may fail between rule and function.
    remove_rules(session.client("events"), {*functions, *(prefix + n for n in known)}, removed)
    for name in functions:
        lambda_client.delete_function(FunctionName=name)
        removed.functions.append(name)
    per_function_roles = {prefix + name for name in known} | set(functions)
    removed.roles = remove_roles(session.client("iam"), app, stage, per_function_roles)
    return removed
