"""What is deployed, read straight from moto's in-process backends.

moto keeps every deployed function (configuration, code bytes, tags) and every
rule (schedule expression, state, targets) in plain Python objects. Reading
them here costs microseconds and no HTTP; moto itself never fires a rule nor
runs a function without Docker, so this is the one place that looks inside it.
It reads through the backends' public methods, those moto's own API answers
with, and the answers' AWS shape (``list_functions`` and each function's
``get_configuration()``, ``list_tags``, ``get_function(...).code_bytes``;
``get_function_concurrency``; ``list_rules`` and each rule's ``describe()``,
``list_targets_by_rule``; the function's ``event_invoke_config`` list, whose
last entry is the one in force, since moto's ``get_function_event_invoke_config``
answers the first one put),
never an underscored attribute. moto is pinned exactly all the same (pyproject.toml),
and tests/deploy/test_moto_state.py fails if any of these moves.

``deployed_functions`` turns what was read into localbridge's vocabulary: one
``FunctionSpec`` per Lambda function that Chalice deployed and an enabled
schedule rule targets, with the settings Lambda has for it: its reserved
concurrency (``PutFunctionConcurrency``, which ``chalice deploy`` calls for
``reserved_concurrency``) and its event invoke config (retry attempts, event age).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from localbridge.model import FunctionSettings, FunctionSpec

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
    reserved_concurrency: int | None = None
    retry_attempts: int | None = None
    """``MaximumRetryAttempts`` of its event invoke config (None: Lambda's default)."""
    event_age_s: int | None = None
    """``MaximumEventAgeInSeconds`` of its event invoke config (None: Lambda's default)."""

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
        from moto.awslambda.exceptions import UnknownFunctionException
        from moto.awslambda.models import lambda_backends
        from moto.events.models import events_backends

        self._lambda = lambda_backends[account][region]
        self._events = events_backends[account][region]
        self._gone = UnknownFunctionException

    def functions(self) -> list[LambdaRecord]:
        """Every function's $LATEST (one deleted while it is read is left out)."""
        records = []
        for function in list(self._lambda.list_functions()):
            configuration = function.get_configuration()
            try:
                tags = self._lambda.list_tags(configuration["FunctionArn"])
                # Not the configuration's "Concurrency": moto leaves it out when it is 0.
                reserved = self._lambda.get_function_concurrency(configuration["FunctionName"])
            except self._gone:
                continue
            configs = list(function.event_invoke_config)
            invoke_config = configs[-1].response() if configs else {}
            record = _lambda_record(configuration, tags, invoke_config)
            records.append(replace(record, reserved_concurrency=_optional_int(reserved)))
        return records

    def rules(self) -> list[RuleRecord]:
        """The default bus's rules (one deleted while it is read is left out)."""
        records = []
        for rule in _every_page(self._events.list_rules):
            described = rule.describe()
            try:
                targets = _every_page(
                    self._events.list_targets_by_rule, rule_id=described["Name"], event_bus_arn=None
                )
            except KeyError:  # moto's answer to a rule that is gone
                continue
            records.append(
                RuleRecord(
                    name=described["Name"],
                    expression=described.get("ScheduleExpression"),
                    state=described["State"],
                    target_arns=tuple(str(target.get("Arn", "")) for target in targets),
                )
            )
        return records

    def code_bytes(self, function_name: str) -> bytes | None:
        """The deployed zip of ``function_name``, or None once it is gone."""
        try:
            code: bytes = self._lambda.get_function(function_name).code_bytes
        except self._gone:
            return None
        return code


def _every_page(list_page: Callable[..., tuple[list[Any], str | None]], **params: Any) -> list[Any]:
    """Every item of a paginated moto backend method (``list_rules`` gives 50 a page)."""
    items, token = list_page(**params)
    while token:
        more, token = list_page(next_token=token, **params)
        items = [*items, *more]
    return list(items)


def _lambda_record(
    configuration: Mapping[str, Any],
    tags: Mapping[str, str],
    invoke_config: Mapping[str, Any] | None = None,
) -> LambdaRecord:
    """A function from its ``GetFunctionConfiguration`` answer, tags and event invoke config."""
    reserved = configuration.get("Concurrency", {}).get("ReservedConcurrentExecutions")
    invoke = invoke_config or {}
    return LambdaRecord(
        name=configuration["FunctionName"],
        arn=configuration["FunctionArn"],
        handler=configuration.get("Handler") or "",
        environment=dict(configuration.get("Environment", {}).get("Variables") or {}),
        timeout_s=int(configuration["Timeout"]),
        memory_mb=int(configuration["MemorySize"]),
        code_sha256=configuration["CodeSha256"],
        tags=dict(tags or {}),
        reserved_concurrency=None if reserved is None else int(reserved),
        retry_attempts=_optional_int(invoke.get("MaximumRetryAttempts")),
        event_age_s=_optional_int(invoke.get("MaximumEventAgeInSeconds")),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def lambda_settings(record: LambdaRecord) -> FunctionSettings:
    """What Lambda does with the function's asynchronous events, as configured."""
    settings = FunctionSettings(max_concurrency=record.reserved_concurrency)
    if record.retry_attempts is not None:
        settings = replace(settings, maximum_retry_attempts=record.retry_attempts)
    if record.event_age_s is not None:
        settings = replace(settings, maximum_event_age=timedelta(seconds=record.event_age_s))
    return settings


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
                settings=lambda_settings(record),
            )
            if spec.rule_name != rule.name:
                continue  # the scheduled event names the rule: only Chalice's own is faithful
            found.append(DeployedFunction(spec, record.code_key))
    return sorted(found, key=lambda deployed: deployed.spec.lambda_name)
