"""What the Lambda API says about a function: its configuration, event invoke config, listing.

Shapes follow botocore's ``lambda`` model (``FunctionConfiguration``,
``GetFunctionResponse``, ``FunctionEventInvokeConfig``, ``ListFunctionsResponse``),
filled from what localbridge knows of each function: its stage's
configuration, environment, timeout, memory, handler and retry settings.

Environment values are secrets as often as not (``RESULTS_API_TOKEN``), and
this API answers any caller on its port; AWS shows them only to callers
allowed to read the function. So values are masked unless the server was
started with ``--show-environment``; the names are always shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from localbridge.events import AwsIdentity, log_group_name
from localbridge.model import FunctionSpec

LATEST = "$LATEST"
RUNTIME = "python3.11"
MASK = "****"
DEFAULT_MAX_ITEMS = 50
MAX_ITEMS_LIMIT = 10_000


class ParameterError(ValueError):
    """A query parameter Lambda would refuse (``InvalidParameterValueException``)."""


@dataclass(frozen=True)
class Describer:
    """Describes functions as Lambda does, for one identity and one server start."""

    identity: AwsIdentity
    last_modified: datetime
    """When the functions were "deployed": the server's start."""
    show_environment: bool = False

    def environment(self, function: FunctionSpec) -> dict[str, str]:
        if self.show_environment:
            return dict(function.environment)
        return {name: MASK for name in function.environment}

    def configuration(self, function: FunctionSpec) -> dict[str, Any]:
        """``GetFunctionConfiguration`` (and one entry of ``ListFunctions``)."""
        return {
            "FunctionName": function.lambda_name,
            "FunctionArn": self.identity.function_arn(function),
            "Runtime": RUNTIME,
            "Role": f"arn:aws:iam::{self.identity.account}:role/"
            f"{function.app_name}-{function.stage}",
            "Handler": function.handler,
            "CodeSize": 0,
            "Description": "",
            "Timeout": function.timeout_s,
            "MemorySize": function.memory_mb,
            "LastModified": self.last_modified.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "CodeSha256": "",
            "Version": LATEST,
            "Environment": {"Variables": self.environment(function)},
            "TracingConfig": {"Mode": "PassThrough"},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": log_group_name(function)},
        }

    def function(self, function: FunctionSpec) -> dict[str, Any]:
        """``GetFunction``: the configuration, and no code location (the code is local)."""
        return {
            "Configuration": self.configuration(function),
            "Code": {"RepositoryType": "S3", "Location": ""},
            "Tags": {
                "aws-chalice": f"version=localbridge:stage={function.stage}:app={function.app_name}"
            },
        }

    def event_invoke_config(self, function: FunctionSpec) -> dict[str, Any]:
        """``GetFunctionEventInvokeConfig``: localbridge's retry settings for the function."""
        settings = function.settings
        return {
            "LastModified": self.last_modified.timestamp(),
            "FunctionArn": self.identity.function_arn(function, LATEST),
            "MaximumRetryAttempts": settings.maximum_retry_attempts,
            "MaximumEventAgeInSeconds": int(settings.maximum_event_age.total_seconds()),
            "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}},
        }

    def list_page(
        self, functions: Sequence[FunctionSpec], query: Mapping[str, str]
    ) -> dict[str, Any]:
        """``ListFunctions``: functions by name, ``MaxItems`` per page after ``Marker``."""
        max_items = max_items_of(query.get("MaxItems"))
        marker = query.get("Marker")
        ordered = sorted(functions, key=lambda f: f.lambda_name)
        remaining = [f for f in ordered if marker is None or f.lambda_name > marker]
        page = remaining[:max_items]
        body: dict[str, Any] = {"Functions": [self.configuration(f) for f in page]}
        if len(remaining) > max_items:
            # The marker is the last name handed out: a reload between pages skips nothing.
            body["NextMarker"] = page[-1].lambda_name
        return body


def max_items_of(text: str | None) -> int:
    if text is None:
        return DEFAULT_MAX_ITEMS
    if not text.isdigit() or not 1 <= int(text) <= MAX_ITEMS_LIMIT:
        raise ParameterError(
            f"MaxItems {text!r}: expected a whole number from 1 to {MAX_ITEMS_LIMIT}"
        )
    return int(text)
