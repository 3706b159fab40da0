"""What is deployed, read straight from moto's in-process backends.

moto keeps every deployed function (configuration, code bytes, tags) and every
rule (schedule expression, state, targets) in plain Python objects. Reading
them here costs microseconds and no HTTP; moto itself never fires a rule nor
runs a function without Docker, so this is the one place that looks inside it.
The attribute names are moto 5.2's (``LambdaStorage.latest()``,
``LambdaFunction.code_sha_256``, ``EventBus.rules``, ``Rule.scheduled_expression``).

``deployed_functions`` turns what was read into localbridge's vocabulary: one
``FunctionSpec`` per Lambda function that Chalice deployed and an enabled
schedule rule targets.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from localbridge.model import FunctionSpec

CHALICE_TAG = "aws-chalice"
ENABLED = "ENABLED"


@dataclass(frozen=True)
class LambdaRecord:
    """One Lambda function ($LATEST) as moto stores it."""

    name: str
    arn: str
    handler: str
    environment: Mapping[str, str]
    timeout_s: int
    memory_mb: int
    code_sha256: str
    """Base64, as Lambda's ``CodeSha256`` reports it."""
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def code_key(self) -> str:
        """The code's SHA-256 in hex: a name usable as a directory."""
        return base64.b64decode(self.code_sha256).hex()


@dataclass(frozen=True)
class RuleRecord:
    name: str
    expression: str | None
    state: str
    target_arns: tuple[str, ...]


@dataclass(frozen=True)
class DeployedFunction:
    """A scheduled function as deployed: what to run and which code package."""

    spec: FunctionSpec
    code_key: str


class MotoState:
    """Reads moto's Lambda and EventBridge backends for one account and region."""

    def __init__(self, account: str, region: str) -> None:
        # Imported here: only the endpoint process needs moto loaded.
        from moto.awslambda.models import lambda_backends
        from moto.events.models import events_backends

        self._lambda = lambda_backends[account][region]
        self._events = events_backends[account][region]

    def functions(self) -> list[LambdaRecord]:
        return [_lambda_record(function) for function in self._lambda._lambdas.latest()]

    def rules(self) -> list[RuleRecord]:
        bus = self._events.event_buses.get("default")
        if bus is None:
            return []
        return [
            RuleRecord(
                name=rule.name,
                expression=rule.scheduled_expression,
                state=rule.state,
                target_arns=tuple(str(target.get("Arn", "")) for target in rule.targets),
            )
            for rule in list(bus.rules.values())
        ]

    def code_bytes(self, function_name: str) -> bytes | None:
        """The deployed zip of ``function_name``, or None once it is gone."""
        for function in self._lambda._lambdas.latest():
            if function.function_name == function_name:
                code: bytes = function.code_bytes
                return code
        return None


def _lambda_record(function: Any) -> LambdaRecord:
    return LambdaRecord(
        name=function.function_name,
        arn=function.function_arn,
        handler=function.handler or "",
        environment=dict(function.environment_vars or {}),
        timeout_s=int(function.timeout),
        memory_mb=int(function.memory_size),
        code_sha256=function.code_sha_256,
        tags=dict(function.tags or {}),
    )


def chalice_names(record: LambdaRecord) -> tuple[str, str, str] | None:
    """(app, stage, function) from Chalice's ``aws-chalice`` tag and the function's name.

    Chalice tags each function ``version=V:stage=S:app=A`` and names it
    ``A-S-function``; a function without that tag was not deployed by Chalice.
    """
    tag = record.tags.get(CHALICE_TAG)
    if tag is None:
        return None
    fields = dict(part.partition("=")[::2] for part in tag.split(":"))
    app, stage = fields.get("app"), fields.get("stage")
    prefix = f"{app}-{stage}-"
    if not app or not stage or not record.name.startswith(prefix):
        return None
    return app, stage, record.name.removeprefix(prefix)


def deployed_functions(
    lambdas: Iterable[LambdaRecord],
    rules: Iterable[RuleRecord],
    extra_environment: Mapping[str, str] | None = None,
) -> list[DeployedFunction]:
    """Every Chalice function an enabled schedule rule named ``<function>-event`` targets.

    ``extra_environment`` is added under the deployed variables (which win): the
    emulated Lambda points the function's AWS SDK at the emulated AWS.
    """
    by_arn = {record.arn.removesuffix(":$LATEST"): record for record in lambdas}
    found = []
    for rule in rules:
        if rule.state != ENABLED or not rule.expression:
            continue
        for arn in rule.target_arns:
            record = by_arn.get(arn.removesuffix(":$LATEST"))
            names = chalice_names(record) if record else None
            if record is None or names is None:
                continue
            spec = FunctionSpec(
                name=names[2],
                handler=record.handler,
                expression=rule.expression,
                app_name=names[0],
                stage=names[1],
                environment={**(extra_environment or {}), **record.environment},
                timeout_s=record.timeout_s,
                memory_mb=record.memory_mb,
            )
            if spec.rule_name != rule.name:
                continue  # the scheduled event names the rule: only Chalice's own is faithful
            found.append(DeployedFunction(spec, record.code_key))
    return sorted(found, key=lambda deployed: deployed.spec.lambda_name)
