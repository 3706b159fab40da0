"""Errors as the API answers them: always ``{"error": "..."}`` with a status, never a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from api.storage import StoreError

log = logging.getLogger(__name__)
JSON = "application/json"
ROUTES = (
    "GET /result, POST /result, GET /result/{id}, DELETE /result/{id}, GET /health,"
    " GET /metrics, GET /docs"
)


class ApiError(Exception):
    """A request the API refuses: answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def json_text(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response from text already encoded, so nothing is serialized twice."""
    return Response(text.encode(), status_code=status, media_type=JSON, headers=headers)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_text(json.dumps({"error": message}), status, headers)


def describe_validation(errors: Sequence[Any]) -> str:
    """'query parameter 'limit': Input should be ... (got '0')' for each failed parameter."""
    parts = []
    for item in errors:
        where, *rest = item.get("loc", ("request",))
        name = rest[-1] if rest else where
        got = f" (got {item['input']!r})" if "input" in item else ""
        parts.append(f"{where} parameter {name!r}: {item.get('msg', 'invalid')}{got}")
    return "; ".join(parts) or "invalid request parameters"


def http_error(request: Request, exc: HTTPException) -> Response:
    """404 and 405 say which routes and methods there are."""
    method, path = request.method, request.url.path
    if exc.status_code == 404:
        return error(404, f"no route {method} {path}; the API serves {ROUTES}", exc.headers)
    if exc.status_code != 405:
        return error(exc.status_code, str(exc.detail), exc.headers)
    # Every method some route serves on this path (Starlette names only the first
    # route's), by the path pattern alone: route.matches() reads per-request state.
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path_regex.match(path):
            methods |= route.methods or set()
    allowed = ", ".join(sorted(methods))
    headers = {**(exc.headers or {}), "Allow": allowed}
    return error(405, f"{method} is not allowed on {path}; use {allowed}", headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(HTTPException)
    async def routing_error(request: Request, exc: HTTPException) -> Response:
        return http_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, exc: RequestValidationError) -> Response:
        return error(422, describe_validation(exc.errors()))

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, exc: StoreError) -> Response:
        log.error("results store failed on %s %s: %s", request.method, request.url.path, exc)
        nothing = ", nothing was stored" if request.method == "POST" else ""
        return error(503, f"results store unavailable{nothing}; retry later ({exc})")

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # Nobody reads this answer; the metrics count the request as one that
        # ended without an answer (500), as any other.
        log.debug("client %s disconnected before its body arrived", request.client)
        return Response(status_code=500)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Reached only through a bug; the traceback goes to the server log.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal error; the server log has the details")
