"""The Lambda API's operations, answered for localbridge's functions.

A pure core, with no HTTP in it: ``LambdaInvokeHandler.handle`` takes the parts
of an ``Invoke`` request the operation reads (function name from the path, the
``X-Amz-Invocation-Type``, ``X-Amz-Log-Type`` and ``X-Amz-Client-Context``
headers, the body) and returns status, headers and body exactly as Lambda
would, so botocore, the AWS CLI and ``chalice invoke`` read them as they read
Lambda's; ``LambdaInvokeHandler.get`` answers the read operations
(``ListFunctions``, ``GetFunction``, ``GetFunctionConfiguration``,
``GetFunctionEventInvokeConfig``, shaped by ``configuration``). Shapes follow
botocore's ``lambda`` service model.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from localbridge import lambda_errors
from localbridge.abc import InvokeBackend
from localbridge.events import AwsIdentity
from localbridge.lambda_api.configuration import LATEST, Describer, ParameterError
from localbridge.lambda_api.parsing import (
    arn_scope,
    find_function,
    parse_client_context,
    parse_payload,
    split_qualifier,
)
from localbridge.lambda_errors import stack_trace
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions, Outcome

__all__ = ["LambdaInvokeHandler", "parse_payload", "split_qualifier", "stack_trace"]

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TAIL_BYTES = 4096
MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024
"""Lambda's quota for an ``Event`` invocation's payload (1 MB since 2025)."""
FUNCTION_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/?")
CONFIGURATION_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/configuration/?")
EVENT_CONFIG_PATH = re.compile(r"/2019-09-25/functions/(?P<name>[^/]+)/event-invoke-config/?")
LIST_PATH = re.compile(r"/2015-03-31/functions/?")


@dataclass(frozen=True)
class InvokeRequest:
    function_name: str
    """As it appears in the path, URL-decoded: short name, full name, or (partial) ARN."""
    invocation_type: str | None = None
    log_type: str | None = None
    body: bytes = b""
    qualifier: str | None = None
    """The ``Qualifier`` query parameter, when given."""
    client_context: str | None = None
    """The ``X-Amz-Client-Context`` header: base64 JSON, when given."""


@dataclass(frozen=True)
class InvokeResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


def response_body(payload: Any) -> bytes:
    """A run's response: JSON, or the bytes themselves when the handler returned bytes
    (Lambda's runtime sends top-level ``bytes`` unencoded)."""
    return payload if isinstance(payload, bytes) else json_body(payload)


def error_response(status: int, error_type: str, body: Mapping[str, str]) -> InvokeResponse:
    """An API error the way Lambda sends it: the type in a header, ``Type`` in the body."""
    return InvokeResponse(
        status,
        {"x-amzn-ErrorType": error_type, "Content-Type": "application/json"},
        json_body({"Type": "User", **body}),
    )


def invalid_content(message: str) -> InvokeResponse:
    return error_response(400, "InvalidRequestContentException", {"message": message})


def invalid_parameter(message: str) -> InvokeResponse:
    return error_response(400, "InvalidParameterValueException", {"message": message})


def unknown_operation(method: str, path: str) -> InvokeResponse:
    return error_response(
        404,
        "UnknownOperationException",
        {
            "message": f"{method} {path} is not an operation of this emulator; it answers "
            "POST /2015-03-31/functions/{FunctionName}/invocations, ListFunctions, "
            "GetFunction, GetFunctionConfiguration and GetFunctionEventInvokeConfig"
        },
    )


def too_large(length: int, limit: int, operation: str) -> InvokeResponse:
    return error_response(
        413,
        "RequestTooLargeException",
        {
            "message": f"Request must be smaller than {limit} bytes for the {operation} "
            f"operation (got {length})"
        },
    )


def throttled() -> InvokeResponse:
    """Lambda's answer to an invocation of a function whose reserved concurrency is 0
    (or all taken); botocore reads ``Reason`` into the error."""
    return error_response(
        429,
        "TooManyRequestsException",
        {
            "message": "Rate Exceeded.",
            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        },
    )


def error_payload(result: InvocationResult, function: FunctionSpec, request_id: str) -> Any:
    """The body Lambda returns with ``X-Amz-Function-Error: Unhandled``."""
    if result.outcome is Outcome.TIMEOUT:
        message = lambda_errors.timeout_message(function.timeout_s)
        return {
            "errorType": lambda_errors.TIMEOUT,
            "errorMessage": f"RequestId: {request_id} Error: {message}",
        }
    if result.outcome is Outcome.CRASHED:
        message = result.error_message or lambda_errors.exit_message("the worker died")
        return {
            "errorType": lambda_errors.EXIT,
            "errorMessage": f"RequestId: {request_id} Error: {message}",
        }
    return {
        "errorMessage": result.error_message or "",
        "errorType": result.error_type or "Exception",
        "requestId": request_id,
        "stackTrace": stack_trace(result.traceback),
    }


@dataclass
class LambdaInvokeHandler:
    """Answers ``Invoke`` and the read operations for the backend's functions."""

    backend: InvokeBackend
    identity: AwsIdentity
    show_environment: bool = False
    """Whether the read operations show environment values (see ``configuration``)."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def describer(self) -> Describer:
        return Describer(self.identity, self.started_at, self.show_environment)

    def handle(self, request: InvokeRequest) -> InvokeResponse:
        invocation_type = request.invocation_type or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            return invalid_parameter(
                f"X-Amz-Invocation-Type {invocation_type!r} is not one of "
                f"{', '.join(INVOCATION_TYPES)}"
            )
        if invocation_type == "Event" and len(request.body) > MAX_ASYNC_PAYLOAD_BYTES:
            return too_large(len(request.body), MAX_ASYNC_PAYLOAD_BYTES, "InvokeAsync")
        function = self.resolve(request.function_name, request.qualifier)
        if isinstance(function, InvokeResponse):
            return function
        try:
            event = parse_payload(request.body)
            client_context = parse_client_context(request.client_context)
        except ValueError as exc:
            return invalid_content(str(exc))
        request_id = str(uuid.uuid4())
        base = {"x-amzn-RequestId": request_id}
        if invocation_type == "DryRun":
            return InvokeResponse(204, base)
        if invocation_type == "RequestResponse" and function.settings.max_concurrency == 0:
            # An Event invocation is accepted and held: the runtime retries it.
            return throttled()
        _, qualifier = split_qualifier(request.function_name)
        options = InvokeOptions(qualifier or request.qualifier, client_context)
        try:
            if invocation_type == "Event":
                self.backend.enqueue(function, event, request_id)
                return InvokeResponse(202, base)
            result = self.backend.invoke(function, event, request_id, options)
        except LookupError:
            # Removed by a code reload between the lookup above and the run.
            return self.not_found(function.lambda_name, None)
        return self.sync_response(function, result, request_id, request.log_type, base)

    def get(self, path: str, query: Mapping[str, str]) -> InvokeResponse:
        """The read operations, by path; anything else is an unknown operation."""
        if LIST_PATH.fullmatch(path):
            return self.read(lambda: self.describer.list_page(self.backend.functions(), query))
        routes: list[tuple[re.Pattern[str], Callable[[FunctionSpec], dict[str, Any]]]] = [
            (CONFIGURATION_PATH, self.describer.configuration),
            (EVENT_CONFIG_PATH, self.describer.event_invoke_config),
            (FUNCTION_PATH, self.describer.function),
        ]
        for pattern, describe in routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            function = self.resolve(unquote(match["name"]), query.get("Qualifier"))
            if isinstance(function, InvokeResponse):
                return function
            return self.read(lambda: describe(function))  # noqa: B023 (called at once)
        return unknown_operation("GET", path)

    def read(self, answer: Callable[[], dict[str, Any]]) -> InvokeResponse:
        try:
            body = answer()
        except ParameterError as error:
            return invalid_parameter(str(error))
        return InvokeResponse(200, {"Content-Type": "application/json"}, json_body(body))

    def list_functions(self) -> InvokeResponse:
        """``ListFunctions``' first page (kept for callers of the earlier API)."""
        return self.get("/2015-03-31/functions/", {})

    def resolve(self, requested: str, query_qualifier: str | None) -> FunctionSpec | InvokeResponse:
        name, qualifier = split_qualifier(requested)
        if qualifier and query_qualifier and qualifier != query_qualifier:
            return invalid_parameter(
                "The derived qualifier from the function name does not match "
                "the specified qualifier."
            )
        qualifier = qualifier or query_qualifier
        region, account = arn_scope(requested)
        elsewhere = region not in (None, self.identity.region) or account not in (
            None, self.identity.account
        )  # fmt: skip
        function = None if elsewhere else find_function(self.backend.functions(), name)
        if function is None or qualifier not in (None, LATEST):
            if elsewhere:
                return self.not_found_arn(requested)
            return self.not_found(function.lambda_name if function else name, qualifier)
        return function

    def not_found(self, name: str, qualifier: str | None) -> InvokeResponse:
        arn = self.identity.function_name_arn(name)
        return self.not_found_arn(f"{arn}:{qualifier}" if qualifier else arn)

    def not_found_arn(self, arn: str) -> InvokeResponse:
        return error_response(
            404, "ResourceNotFoundException", {"Message": f"Function not found: {arn}"}
        )

    def sync_response(
        self,
        function: FunctionSpec,
        result: InvocationResult,
        request_id: str,
        log_type: str | None,
        base: dict[str, str],
    ) -> InvokeResponse:
        headers = {**base, "X-Amz-Executed-Version": LATEST, "Content-Type": "application/json"}
        if log_type == "Tail":
            tail = result.logs.encode()[-LOG_TAIL_BYTES:]
            headers["X-Amz-Log-Result"] = base64.b64encode(tail).decode()
        if result.succeeded:
            return InvokeResponse(200, headers, response_body(result.payload))
        headers["X-Amz-Function-Error"] = "Unhandled"
        return InvokeResponse(200, headers, json_body(error_payload(result, function, request_id)))
