"""Every error the app can answer, as ``{"error": "..."}`` instead of FastAPI's ``detail``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.errors import ApiError
from api.responses import error
from api.storage import StoreError

log = logging.getLogger(__name__)
ROUTES = (
    "GET /result, POST /result, GET /result/{id}, DELETE /result/{id}, GET /health,"
    " GET /metrics, GET /docs"
)
# Served in front of FastAPI's router (api/app.py), so its routes do not list them.
FRONT_ROUTES = {"/result": {"POST"}}


def describe_validation(errors: Sequence[Any]) -> str:
    """'query parameter 'limit': Input should be ... (got '0')' for each failed parameter."""
    parts = []
    for item in errors:
        where, *rest = item.get("loc", ("request",))
        name = rest[-1] if rest else where
        got = f" (got {item['input']!r})" if "input" in item else ""
        parts.append(f"{where} parameter {name!r}: {item.get('msg', 'invalid')}{got}")
    return "; ".join(parts) or "invalid request parameters"


def allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods = set(FRONT_ROUTES.get(request.url.path, ()))
    for route in request.app.router.routes:
        # The path pattern alone: route.matches() reads per-request routing state.
        if isinstance(route, Route) and route.path_regex.match(request.url.path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        method, path = request.method, request.url.path
        if exc.status_code == 404:
            message = f"no route {method} {path}; the API serves {ROUTES}"
        elif exc.status_code == 405:
            allowed = allowed_methods(request)
            headers = {**(exc.headers or {}), "Allow": allowed}
            return error(405, f"{method} is not allowed on {path}; use {allowed}", headers)
        else:
            message = str(exc.detail)
        return error(exc.status_code, message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, exc: RequestValidationError) -> Response:
        return error(422, describe_validation(exc.errors()))

    @app.exception_handler(StoreError)
    async def store_unavailable(request: Request, exc: StoreError) -> Response:
        log.error("results store failed on %s %s: %s", request.method, request.url.path, exc)
        return error(503, f"results store unavailable; retry later ({exc})")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Reached only through a bug; the traceback goes to the server log.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal error; the server log has the details")
