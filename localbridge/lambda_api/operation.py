"""The Lambda ``Invoke`` operation, answered for localbridge's functions.

A pure core, with no HTTP in it: ``LambdaInvokeHandler.handle`` takes the parts
of a request the operation reads (function name from the path, the
``X-Amz-Invocation-Type`` and ``X-Amz-Log-Type`` headers, the body) and returns
status, headers and body exactly as Lambda would, so botocore, the AWS CLI and
``chalice invoke`` read them as they read Lambda's. Shapes follow botocore's
``lambda`` service model (``Invoke``, ``ResourceNotFoundException``,
``InvalidRequestContentException``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from localbridge import lambda_errors
from localbridge.events import AwsIdentity
from localbridge.model import FunctionSpec, InvocationResult, Outcome

LATEST = "$LATEST"
RUNTIME = "python3.11"
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TAIL_BYTES = 4096


class InvokeBackend(Protocol):
    """What runs the functions: the runtime (ledger, retries) or a bare invoker."""

    def functions(self) -> Sequence[FunctionSpec]:
        """The functions served right now (re-read per request: code reloads)."""
        ...

    def invoke(self, function: FunctionSpec, event: Mapping[str, Any] | None) -> InvocationResult:
        """Run now and wait; ``None`` means the scheduled event for the current instant."""
        ...

    def enqueue(self, function: FunctionSpec, event: Mapping[str, Any] | None) -> None:
        """Accept an asynchronous invocation (``Event``); return once it is recorded."""
        ...


@dataclass(frozen=True)
class InvokeRequest:
    function_name: str
    """As it appears in the path, URL-decoded: short name, full name, or (partial) ARN."""
    invocation_type: str | None = None
    log_type: str | None = None
    body: bytes = b""
    qualifier: str | None = None
    """The ``Qualifier`` query parameter, when given."""


@dataclass(frozen=True)
class InvokeResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


def error_response(status: int, error_type: str, body: Mapping[str, str]) -> InvokeResponse:
    """An API error the way Lambda sends it: the type in a header, ``Type`` in the body."""
    return InvokeResponse(
        status,
        {"x-amzn-ErrorType": error_type, "Content-Type": "application/json"},
        json_body({"Type": "User", **body}),
    )


def parse_payload(body: bytes) -> Mapping[str, Any] | None:
    """The event to pass, or None when there is no payload (the rule fires "now").

    The functions are scheduled functions: their event is a JSON object, so
    anything else is refused here rather than failing inside the handler.
    """
    if not body.strip():
        return None
    try:
        event = json.loads(body)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"Could not parse request body into json: not UTF-8 ({exc.reason})"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"Could not parse request body into json: {exc}") from None
    if not isinstance(event, dict):
        raise ValueError(
            f"The payload is a JSON {type(event).__name__}; these are scheduled functions, "
            "send a JSON object (an EventBridge event) or no payload at all"
        )
    return event


def split_qualifier(name: str) -> tuple[str, str | None]:
    """``name`` as the Invoke API accepts it -> (function name, qualifier or None).

    Accepted forms: ``fn``, ``fn:qualifier``, ``arn:aws:lambda:region:account:function:fn``
    and the partial ``account:function:fn``, each with an optional ``:qualifier``.
    """
    parts = name.split(":")
    if parts[0] == "arn" and len(parts) in (7, 8) and parts[5] == "function":
        return parts[6], (parts[7] if len(parts) == 8 else None)
    if len(parts) in (3, 4) and parts[1] == "function":
        return parts[2], (parts[3] if len(parts) == 4 else None)
    if len(parts) == 2:
        return parts[0], parts[1]
    return name, None


def find_function(functions: Sequence[FunctionSpec], name: str) -> FunctionSpec | None:
    """The function whose deployed name (``<app>-<stage>-<fn>``) or short name is ``name``."""
    for function in functions:
        if name in (function.lambda_name, function.name):
            return function
    return None


def stack_trace(formatted: str | None) -> list[str]:
    """Lambda's ``stackTrace``: one string per frame, as ``traceback.format_list`` gives.

    ``formatted`` is a whole formatted traceback; its heading and the closing
    exception line are not frames. Chained exceptions keep only the last chain.
    """
    if not formatted:
        return []
    frames: list[str] = []
    for line in formatted.splitlines(keepends=True):
        if line.startswith("  File "):
            frames.append(line)
        elif line.startswith("    ") and frames:
            frames[-1] += line
        elif line.startswith("Traceback (most recent call last)"):
            frames = []
    return frames


def error_payload(result: InvocationResult, function: FunctionSpec, request_id: str) -> Any:
    """The body Lambda returns with ``X-Amz-Function-Error: Unhandled``."""
    if result.outcome is Outcome.TIMEOUT:
        message = lambda_errors.timeout_message(function.timeout_s)
        return {
            "errorType": lambda_errors.TIMEOUT,
            "errorMessage": f"RequestId: {request_id} Error: {message}",
        }
    if result.outcome is Outcome.CRASHED:
        message = lambda_errors.exit_message(result.error_message or "the worker died")
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
    """Answers ``Invoke`` (and ``ListFunctions``) for the backend's functions."""

    backend: InvokeBackend
    identity: AwsIdentity

    def handle(self, request: InvokeRequest) -> InvokeResponse:
        invocation_type = request.invocation_type or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            return error_response(
                400,
                "InvalidParameterValueException",
                {
                    "message": f"X-Amz-Invocation-Type {invocation_type!r} is not one of "
                    f"{', '.join(INVOCATION_TYPES)}"
                },
            )
        function = self.resolve(request.function_name, request.qualifier)
        if isinstance(function, InvokeResponse):
            return function
        try:
            event = parse_payload(request.body)
        except ValueError as exc:
            return error_response(400, "InvalidRequestContentException", {"message": str(exc)})
        request_id = str(uuid.uuid4())
        base = {"x-amzn-RequestId": request_id}
        if invocation_type == "DryRun":
            return InvokeResponse(204, base)
        try:
            if invocation_type == "Event":
                self.backend.enqueue(function, event)
                return InvokeResponse(202, base)
            result = self.backend.invoke(function, event)
        except LookupError:
            # Removed by a code reload between the lookup above and the run.
            return self.not_found(function.lambda_name, None)
        return self.sync_response(function, result, request_id, request.log_type, base)

    def list_functions(self) -> InvokeResponse:
        """``ListFunctions``: enough for ``aws lambda list-functions`` and health checks."""
        functions = [
            {
                "FunctionName": function.lambda_name,
                "FunctionArn": self.identity.function_arn(function),
                "Handler": function.handler,
                "Runtime": RUNTIME,
                "Timeout": function.timeout_s,
                "MemorySize": function.memory_mb,
                "Version": LATEST,
                "Environment": {"Variables": dict(function.environment)},
            }
            for function in self.backend.functions()
        ]
        return InvokeResponse(
            200, {"Content-Type": "application/json"}, json_body({"Functions": functions})
        )

    def resolve(self, requested: str, query_qualifier: str | None) -> FunctionSpec | InvokeResponse:
        name, qualifier = split_qualifier(requested)
        if qualifier and query_qualifier and qualifier != query_qualifier:
            return error_response(
                400,
                "InvalidParameterValueException",
                {
                    "message": "The derived qualifier from the function name does not match "
                    "the specified qualifier."
                },
            )
        qualifier = qualifier or query_qualifier
        function = find_function(self.backend.functions(), name)
        if function is None or qualifier not in (None, LATEST):
            return self.not_found(function.lambda_name if function else name, qualifier)
        return function

    def not_found(self, name: str, qualifier: str | None) -> InvokeResponse:
        arn = self.requested_arn(name, qualifier)
        return error_response(
            404, "ResourceNotFoundException", {"Message": f"Function not found: {arn}"}
        )

    def requested_arn(self, name: str, qualifier: str | None) -> str:
        arn = self.identity.function_name_arn(name)
        return f"{arn}:{qualifier}" if qualifier else arn

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
            return InvokeResponse(200, headers, json_body(result.payload))
        headers["X-Amz-Function-Error"] = "Unhandled"
        return InvokeResponse(200, headers, json_body(error_payload(result, function, request_id)))
