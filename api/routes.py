"""The API's routes, on the app itself (an included router would hide them from ``app.routes``).

The store is only called on worker threads: FastAPI runs plain ``def``
endpoints in its thread pool, and a page hops there per chunk of about
PAGE_CHUNK_BYTES, read when the client has taken the previous one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query
from fastapi.routing import APIRoute
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.body import (
    MAX_BODY_BYTES,
    MAX_KEY_LENGTH,
    authorize,
    check_head,
    parse_object,
    read_limited,
)
from api.errors import JSON, ApiError, json_text
from api.records import StoredResult
from api.service import ApiContext, ResultService, record_json, time_filter
from api.storage import Filter

MAX_ID = 2**63 - 1  # SQLite's largest integer
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
PAGE_CHUNK_BYTES = 1024 * 1024
SINCE = "only results received at or after this ISO 8601 instant, e.g. 2022-12-21T00:00:00Z"
UNTIL = "only results received before this ISO 8601 instant"
RESULT_ID = Path(alias="id", ge=1, le=MAX_ID, description="the result's id")
UNAUTHORIZED = "RESULTS_API_TOKEN is set and the bearer token is missing or wrong"
POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "stored; the record"},
    200: {"description": "a repeat of an Idempotency-Key with the same JSON value"},
    400: {"description": "malformed JSON, a bad Idempotency-Key, a repeated header"},
    401: {"description": UNAUTHORIZED},
    409: {"description": "the Idempotency-Key was already used for a different result"},
    413: {"description": f"the body is over {MAX_BODY_BYTES} bytes"},
    415: {"description": "the Content-Type is not JSON"},
    422: {"description": "the JSON value is not an object, or its metric is not text"},
    503: {"description": "the store failed; nothing was stored"},
}
# POST /result reads its headers and body itself (each header at most once, the
# size enforced while reading, JSON errors worded for people): FastAPI is told
# their shape rather than parsing them.
KEY_HEADER = {"name": "Idempotency-Key", "in": "header", "required": False}
KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}
POST_REQUEST: dict[str, Any] = {
    "parameters": [
        {**KEY_HEADER, "description": "one stored result per key", "schema": KEY_SCHEMA}
    ],
    "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}},
}
DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "deleted"},
    401: {"description": UNAUTHORIZED},
    404: {"description": "no result with this id"},
    503: {"description": "the store failed; nothing was deleted"},
}


class PlainRoute(APIRoute):
    """A route whose endpoint takes the request and returns the response (FastAPI's hook
    for a custom route): no dependency to solve per request; the rest stays FastAPI's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


async def post_result(request: Request) -> Response:
    """Store a JSON object; 201 with the record, 200 when its Idempotency-Key
    repeats with the same JSON value."""
    context = context_of(request)
    key = check_head(request.scope["headers"], context.token)
    result = parse_object(await read_limited(request.receive))
    posted = await context.service.post(result, key)
    return json_text(record_json(posted.result), 201 if posted.created else 200)


async def require_token(request: Request) -> None:
    """The bearer token, checked before the parameters: a caller without it learns nothing."""
    given = request.headers.getlist("authorization")
    if len(given) > 1:
        raise ApiError(400, "send at most one Authorization header")
    authorize(given[0] if given else None, context_of(request).token)


async def page_chunks(
    service: ResultService, first: list[StoredResult], limit: int, only: Filter
) -> AsyncIterator[str]:
    """The page as JSON text, one chunk per read of at most about PAGE_CHUNK_BYTES."""
    yield "[" + json_items(first)
    sent, last = len(first), first[-1].id
    while sent < limit:
        chunk = await run_in_threadpool(service.page, last, limit - sent, only, PAGE_CHUNK_BYTES)
        if not chunk:
            break
        yield "," + json_items(chunk)
        sent, last = sent + len(chunk), chunk[-1].id
    yield "]"


def json_items(results: list[StoredResult]) -> str:
    return ",".join(record_json(result) for result in results)


def add_routes(app: FastAPI) -> None:
    app.router.add_api_route(
        "/result",
        post_result,
        methods=["POST"],
        status_code=201,
        responses=POST_RESPONSES,
        openapi_extra=POST_REQUEST,
        route_class_override=PlainRoute,
    )

    @app.get("/result")
    async def list_results(
        request: Request,
        metric: Annotated[str | None, Query(description="only this metric")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="page after this id")] = 0,
        since: Annotated[str | None, Query(description=SINCE)] = None,
        until: Annotated[str | None, Query(description=UNTIL)] = None,
    ) -> Response:
        """Stored records, oldest first; large pages are streamed chunk by chunk."""
        service = context_of(request).service
        only = time_filter(metric, since, until)
        # The first chunk is read before answering, so a store failure is still a 503.
        first = await run_in_threadpool(service.page, after_id, limit, only, PAGE_CHUNK_BYTES)
        if len(first) == limit or sum(len(r.body) for r in first) < PAGE_CHUNK_BYTES:
            return json_text("[" + json_items(first) + "]")  # the whole page: no need to stream
        return StreamingResponse(page_chunks(service, first, limit, only), media_type=JSON)

    @app.get("/result/{id}")
    def get_result(request: Request, result_id: Annotated[int, RESULT_ID]) -> Response:
        """One stored record."""
        return json_text(record_json(context_of(request).service.get(result_id)))

    @app.delete(
        "/result/{id}",
        status_code=204,
        dependencies=[Depends(require_token)],
        responses=DELETE_RESPONSES,
    )
    def delete_result(request: Request, result_id: Annotated[int, RESULT_ID]) -> Response:
        """Delete one stored record; its Idempotency-Key may then be posted anew."""
        context_of(request).service.delete(result_id)
        return Response(status_code=204)

    @app.get("/metrics", response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus metrics of this server (docs/results-api.md); counts the store."""
        return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    def health(request: Request) -> Response:
        """The store's state: path, result count, schema version, journal mode (503 if unusable)."""
        state = context_of(request).service.state()
        return json_text(json.dumps({"status": "ok", **asdict(state)}))
