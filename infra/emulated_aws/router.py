"""One endpoint, two planes: Lambda ``Invoke`` to localbridge, everything else to moto.

``chalice deploy``, ``chalice logs``, awscli and boto3 all talk to one URL
(``AWS_ENDPOINT_URL``). This WSGI app sends ``POST
/2015-03-31/functions/{name}/invocations`` to localbridge's Invoke operation
(which runs the deployed code) and the emulator's own ``/_emulated_aws/``
routes to the engine; any other request goes to moto unchanged.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

from infra.emulated_aws import validation
from localbridge.lambda_api.operation import (
    InvokeRequest,
    InvokeResponse,
    LambdaInvokeHandler,
    error_response,
)
from localbridge.lambda_api.server import INVOKE_PATH, MAX_PAYLOAD_BYTES

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

CONTROL_PREFIX = "/_emulated_aws/"


class Control(Protocol):
    """The engine as the router sees it."""

    def invoke_handler(self) -> LambdaInvokeHandler | None:
        """The Invoke operation, or None until the clock has started."""

    def health(self) -> dict[str, Any]: ...

    def start_clock(self) -> dict[str, Any]: ...


def clock_not_started() -> InvokeResponse:
    return error_response(
        503,
        "ServiceException",
        {
            "message": "the emulated AWS runs a virtual clock that has not started yet; "
            "`make deploy-local` starts it after deploying "
            f"(or POST {CONTROL_PREFIX}clock/start)"
        },
    )


def invoke_request(environ: dict[str, Any], name: str) -> InvokeRequest | InvokeResponse:
    length_text = environ.get("CONTENT_LENGTH") or "0"
    if not length_text.isdigit():
        return error_response(
            400, "InvalidRequestContentException", {"message": "Content-Length is not a number"}
        )
    length = int(length_text)
    if length > MAX_PAYLOAD_BYTES:
        return error_response(
            413,
            "RequestTooLargeException",
            {"message": f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes (got {length})"},
        )
    body = environ["wsgi.input"].read(length) if length else b""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    return InvokeRequest(
        function_name=unquote(name),
        invocation_type=environ.get("HTTP_X_AMZ_INVOCATION_TYPE"),
        log_type=environ.get("HTTP_X_AMZ_LOG_TYPE"),
        body=body,
        qualifier=query.get("Qualifier", [None])[0],
    )


def reread_body(environ: dict[str, Any]) -> bytes:
    """The request's body, put back so moto reads it too."""
    length_text = environ.get("CONTENT_LENGTH") or "0"
    body = environ["wsgi.input"].read(int(length_text)) if length_text.isdigit() else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def json_response(status: int, value: Any) -> InvokeResponse:
    return InvokeResponse(status, {"Content-Type": "application/json"}, json.dumps(value).encode())


class Router:
    """The WSGI app served on the endpoint's port."""

    def __init__(self, moto_app: WsgiApp, control: Control) -> None:
        self._moto = moto_app
        self._control = control

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        match = INVOKE_PATH.fullmatch(path)
        if method == "POST" and match is not None:
            return self._send(self._invoke(environ, match["name"]), start_response)
        if path.startswith(CONTROL_PREFIX):
            return self._send(self._control_route(method, path), start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if method == "POST" and target in validation.CHECKED:
            refused = validation.check(target, reread_body(environ))
            if refused is not None:
                return self._send(refused, start_response)
        return self._moto(environ, start_response)

    def _invoke(self, environ: dict[str, Any], name: str) -> InvokeResponse:
        request = invoke_request(environ, name)
        if isinstance(request, InvokeResponse):
            return request
        handler = self._control.invoke_handler()
        return clock_not_started() if handler is None else handler.handle(request)

    def _control_route(self, method: str, path: str) -> InvokeResponse:
        route = path.removeprefix(CONTROL_PREFIX).rstrip("/")
        if method == "GET" and route == "health":
            return json_response(200, self._control.health())
        if method == "POST" and route == "clock/start":
            return json_response(200, self._control.start_clock())
        return json_response(404, {"message": f"no route {method} {path}"})

    @staticmethod
    def _send(response: InvokeResponse, start_response: StartResponse) -> Iterable[bytes]:
        status = f"{response.status} {HTTPStatus(response.status).phrase}"
        headers = [*response.headers.items(), ("Content-Length", str(len(response.body)))]
        start_response(status, headers)
        return [response.body]
