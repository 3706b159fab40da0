"""What Lambda hands a scheduled function: the EventBridge event and a context.

Both are built exactly as AWS builds them for a rule created by ``chalice
deploy``, so a function cannot tell the emulator from the real thing. This
module uses the standard library only: worker processes import it too.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localbridge.abc import EventFactory
from localbridge.instants import require_aware, whole_seconds
from localbridge.model import FunctionSpec, InvokeOptions
from localbridge.ticks import Tick

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
ACCOUNT_VARIABLE = "LOCALBRIDGE_ACCOUNT_ID"
"""Sets the emulated account id (LocalStack's users expect 000000000000)."""


@dataclass(frozen=True)
class AwsIdentity:
    """The account and region the emulated functions live in."""

    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, account: str | None = None
    ) -> AwsIdentity:
        """Region from ``AWS_DEFAULT_REGION`` or ``AWS_REGION`` (as the AWS SDKs read it),
        account from ``LOCALBRIDGE_ACCOUNT_ID`` (checked by ``check_account_id``)."""
        env = os.environ if environ is None else environ
        region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or DEFAULT_REGION
        return cls(account=account or env.get(ACCOUNT_VARIABLE) or DEFAULT_ACCOUNT, region=region)

    def function_arn(self, function: FunctionSpec, qualifier: str | None = None) -> str:
        arn = self.function_name_arn(function.lambda_name)
        return f"{arn}:{qualifier}" if qualifier else arn

    def function_name_arn(self, lambda_name: str) -> str:
        """The ARN of the Lambda function deployed as ``lambda_name``."""
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{lambda_name}"

    def rule_arn(self, function: FunctionSpec) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:rule/{function.rule_name}"


def check_account_id(account: str) -> str | None:
    """What is wrong with an account id, or None: AWS's are twelve digits."""
    if len(account) == 12 and account.isdigit():
        return None
    return f"account id {account!r} is not twelve digits (e.g. {DEFAULT_ACCOUNT} or 000000000000)"


def scheduled_event(
    function: FunctionSpec,
    scheduled_at: datetime,
    identity: AwsIdentity,
    event_id: str | None = None,
) -> dict[str, Any]:
    """The event EventBridge sends when ``function``'s rule fires at ``scheduled_at``.

    ``event_id`` is the delivery's id: every attempt of one delivery (a retry,
    a redrive) carries the same one, as EventBridge's do.
    """
    return _event(identity, identity.rule_arn(function), scheduled_at, event_id)


def _utc(scheduled_at: datetime) -> datetime:
    # UTC already (every tick's instant): no conversion per event.
    return (
        scheduled_at
        if scheduled_at.tzinfo is UTC
        else require_aware(scheduled_at, "scheduled time")
    )


def _event(
    identity: AwsIdentity, rule_arn: str, scheduled_at: datetime, event_id: str | None
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": identity.account,
        "time": whole_seconds(_utc(scheduled_at)),
        "region": identity.region,
        "resources": [rule_arn],
        "detail": {},
    }


def make_event_factory(identity: AwsIdentity | None = None) -> EventFactory:
    """Scheduled events for ``identity`` (default: the account and region of the environment).

    The one place "the event for an instant" is made: the runtime uses it for
    every tick, the Invoke API for an invocation without a payload ("now").
    """
    chosen = identity or AwsIdentity.from_environment()
    rule_arns: dict[str, str] = {}  # per rule name: built once, not once per event

    def build(
        function: FunctionSpec, instant: datetime, event_id: str | None = None, /
    ) -> dict[str, Any]:
        rule = function.rule_name
        arn = rule_arns.get(rule)
        if arn is None:
            arn = rule_arns.setdefault(rule, chosen.rule_arn(function))
        return _event(chosen, arn, instant, event_id)

    return build


def tick_event(build: EventFactory, function: FunctionSpec, tick: Tick) -> Mapping[str, Any]:
    """The event every attempt of ``tick`` gets: its own, or its scheduled event."""
    if tick.event is not None:
        return tick.event
    return build(function, tick.scheduled_at, tick.event_id)


def new_log_stream_name(now: datetime | None = None) -> str:
    """A log stream name shaped like Lambda's: ``YYYY/MM/DD/[$LATEST]<32 hex>``."""
    day = (now or datetime.now(UTC)).strftime("%Y/%m/%d")
    return f"{day}/[$LATEST]{uuid.uuid4().hex}"


def log_group_name(function: FunctionSpec) -> str:
    return f"/aws/lambda/{function.lambda_name}"


def new_trace_id(now: float | None = None) -> str:
    """An X-Ray trace header like the one Lambda puts in ``_X_AMZN_TRACE_ID`` (not sampled)."""
    epoch = int(time.time() if now is None else now)
    digits = secrets.token_hex(20)  # the root's 24 hex digits and the parent's 16
    return f"Root=1-{epoch:08x}-{digits[:24]};Parent={digits[24:]};Sampled=0"


_NO_OPTIONS = InvokeOptions()


@dataclass(frozen=True)
class ContextFields:
    """Everything a Lambda context carries, as plain data (crosses process pipes)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_ms: int
    client_context: dict[str, Any] | None = None
    trace_id: str = ""

    @classmethod
    def for_invocation(
        cls,
        function: FunctionSpec,
        identity: AwsIdentity,
        request_id: str,
        log_stream: str,
        options: InvokeOptions | None = None,
    ) -> ContextFields:
        chosen = options or _NO_OPTIONS
        client_context = None if chosen.client_context is None else dict(chosen.client_context)
        name = function.lambda_name
        arn = identity.function_name_arn(name)
        return cls(
            function_name=name,
            invoked_function_arn=f"{arn}:{chosen.qualifier}" if chosen.qualifier else arn,
            memory_limit_in_mb=function.memory_mb,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{name}",
            log_stream_name=log_stream,
            timeout_ms=function.timeout_s * 1000,
            client_context=client_context,
            trace_id=new_trace_id(),
        )

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ContextFields:
        return cls(**data)


class CognitoIdentity:
    """``context.identity``: set only for calls through the AWS Mobile SDK, so empty here."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self) -> None:
        self.cognito_identity_id: str | None = None
        self.cognito_identity_pool_id: str | None = None


class Client:
    """``context.client_context.client``: the calling app, as the caller described it."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id"
    )  # fmt: skip

    def __init__(self, data: Mapping[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, data.get(name))


class ClientContext:
    """``context.client_context``: the ``X-Amz-Client-Context`` a synchronous caller sent."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        self.client = Client(client) if isinstance(client, Mapping) else None


class LambdaContext:
    """The context object Lambda passes as the handler's second argument.

    ``time_source`` returns seconds (``time.monotonic`` by default); the run's
    deadline is fixed when the context is created, as Lambda fixes it when the
    invocation starts.
    """

    function_version = "$LATEST"

    def __init__(
        self, fields: ContextFields, time_source: Callable[[], float] = time.monotonic
    ) -> None:
        self.function_name = fields.function_name
        self.invoked_function_arn = fields.invoked_function_arn
        # A string, as in Lambda's Python runtime (it reads the variable
        # AWS_LAMBDA_FUNCTION_MEMORY_SIZE verbatim).
        self.memory_limit_in_mb = str(fields.memory_limit_in_mb)
        self.aws_request_id = fields.aws_request_id
        self.log_group_name = fields.log_group_name
        self.log_stream_name = fields.log_stream_name
        self.identity = CognitoIdentity()
        context = fields.client_context
        self.client_context = None if context is None else ClientContext(context)
        # Lambda's tenant isolation mode sets it; localbridge has no tenants.
        self.tenant_id: str | None = None
        self._time_source = time_source
        self._deadline = time_source() + fields.timeout_ms / 1000.0

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the run is stopped; never negative."""
        return max(0, int((self._deadline - self._time_source()) * 1000))

    def log(self, msg: object) -> None:
        """Write ``msg`` to the run's log as is (no newline added), as Lambda's runtime does."""
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, request={self.aws_request_id!r})"
